"""Who holds a need after routing: an admin's assignment, a reopening, a transfer, and the needs a widened cooperative inherits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import AssignmentStatus, NeedStatus
from storage.db import off_the_loop
from storage.routing import territory_contains
from storage.models import (
    ComuneRow,
    Cooperative,
    CooperativeCategory,
    CooperativeTerritory,
    Need,
    NeedAssignment,
    NeedStatusChange,
)

TRANSFERABLE = (NeedStatus.CLAIMED, NeedStatus.IN_PROGRESS)


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def assign(session: AsyncSession, *, need_id: str, cooperative_id: int, at: datetime) -> bool:
    """Offer a new, unheld need to one more cooperative, as routing would have; False when it is no
    longer new, someone holds it, or this cooperative already had it (never the same need twice)."""
    need = await session.get(Need, need_id)
    if need is None or need.status != NeedStatus.NEW or need.claimed_by_cooperative_id is not None:
        return False
    had = await session.scalar(
        select(NeedAssignment.id).where(NeedAssignment.need_id == need_id, NeedAssignment.cooperative_id == cooperative_id)
    )
    if had is not None:
        return False
    session.add(NeedAssignment(need_id=need_id, cooperative_id=cooperative_id, routed_at=need.created_at))
    await session.flush()
    return True


async def reopen(
    session: AsyncSession, *, need_id: str, from_status: str, actor: str, operator_id: int | None, note: str | None, at: datetime
) -> NeedStatus | None:
    """A resolved or closed need opens again: "in corso" when a cooperative holds it, else "nuova".

    The times it ended are cleared (retention counts from the next close; the time to resolve from
    the next resolution). None when someone moved it meanwhile.
    """
    need = await session.get(Need, need_id)
    if need is None or need.status != from_status or need.anonymised_at is not None:
        return None
    target = NeedStatus.IN_PROGRESS if need.claimed_by_cooperative_id is not None else NeedStatus.NEW
    result = await session.execute(
        update(Need)
        .where(col(Need.id) == need_id, col(Need.status) == from_status)
        .values(status=target, resolved_at=None, closed_at=None, updated_at=at)
    )
    if _rows(result) != 1:
        return None
    session.add(
        NeedStatusChange(
            need_id=need_id, from_status=from_status, to_status=target, actor=actor, operator_id=operator_id, note=note, at=at
        )
    )
    return target


async def transfer(
    session: AsyncSession,
    *,
    need_id: str,
    from_cooperative_id: int,
    to_cooperative_id: int,
    operator_id: int,
    reason: str,
    at: datetime,
) -> bool:
    """Pass a held, open need to another cooperative; the giver's assignment becomes `trasferita`, so
    it no longer sees the need. False when it changed hands or status meanwhile, or the receiver had it."""
    need = await session.get(Need, need_id)
    had = await session.scalar(
        select(NeedAssignment.id).where(NeedAssignment.need_id == need_id, NeedAssignment.cooperative_id == to_cooperative_id)
    )
    if need is None or had is not None:
        return False
    status = need.status
    result = await session.execute(
        update(Need)
        .where(
            col(Need.id) == need_id,
            col(Need.claimed_by_cooperative_id) == from_cooperative_id,
            col(Need.status).in_(TRANSFERABLE),
        )
        .values(claimed_by_cooperative_id=to_cooperative_id, claimed_by_operator_id=None, updated_at=at)
    )
    if _rows(result) != 1:
        return False
    gave = await session.execute(
        update(NeedAssignment)
        .where(col(NeedAssignment.need_id) == need_id, col(NeedAssignment.cooperative_id) == from_cooperative_id)
        .values(status=AssignmentStatus.TRANSFERRED)
    )
    if _rows(gave) == 0:
        session.add(
            NeedAssignment(
                need_id=need_id, cooperative_id=from_cooperative_id, status=AssignmentStatus.TRANSFERRED, routed_at=need.created_at
            )
        )
    session.add(NeedAssignment(need_id=need_id, cooperative_id=to_cooperative_id, routed_at=need.created_at))
    # A transfer is the history row whose status stays the same; it names where the need went.
    session.add(
        NeedStatusChange(
            need_id=need_id,
            from_status=status,
            to_status=status,
            actor=f"operator:{operator_id}",
            operator_id=operator_id,
            cooperative_id=to_cooperative_id,
            note=reason,
            at=at,
        )
    )
    await session.flush()
    return True


async def uncovered_for(session: AsyncSession, *, cooperative_id: int, limit: int = 500) -> Sequence[Need]:
    """New needs in this cooperative's territory and categories that nobody has now (never routed, or
    every cooperative declined), leaving out those this cooperative itself already had; oldest first."""
    await off_the_loop(session)  # the open needs of a whole territory, in an admin's turn: not on the event loop
    covered = (
        select(CooperativeTerritory.id)
        .join(Cooperative, col(Cooperative.id) == col(CooperativeTerritory.cooperative_id))
        .where(col(CooperativeTerritory.cooperative_id) == cooperative_id, col(Cooperative.is_active), territory_contains())
    )
    serves = select(CooperativeCategory.category_slug).where(col(CooperativeCategory.cooperative_id) == cooperative_id)
    someone_has = select(NeedAssignment.id).where(
        col(NeedAssignment.need_id) == col(Need.id), col(NeedAssignment.status) == AssignmentStatus.ROUTED
    )
    had_it = select(NeedAssignment.id).where(
        col(NeedAssignment.need_id) == col(Need.id), col(NeedAssignment.cooperative_id) == cooperative_id
    )
    query = (
        select(Need)
        .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
        .where(
            col(Need.status) == NeedStatus.NEW,
            col(Need.claimed_by_cooperative_id).is_(None),
            col(Need.anonymised_at).is_(None),
            col(Need.category_slug).in_(serves),
            exists(covered),
            ~exists(someone_has),
            ~exists(had_it),
        )
        .order_by(col(Need.created_at), col(Need.id))
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
