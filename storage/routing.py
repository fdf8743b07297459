"""Routing needs to cooperatives, claims, declines, status changes and the operator's views of needs."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, update
from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import ENDED_STATUSES, AssignmentStatus, NeedStatus, TerritoryKind, Urgency
from conversations.vocabulary import OPEN_STATUSES as OPEN_STATUSES  # re-exported: callers read `routing.OPEN_STATUSES`
from storage.models import (
    Category,
    ComuneRow,
    Cooperative,
    CooperativeCategory,
    CooperativeTerritory,
    Need,
    NeedAssignment,
    NeedNote,
    NeedStatusChange,
)
from storage.plain import Plain


def territory_contains() -> ColumnElement[bool]:
    """A territory row contains a comune row: the comune itself, its province or its region."""
    return or_(
        and_(col(CooperativeTerritory.kind) == TerritoryKind.COMUNE, col(CooperativeTerritory.code) == ComuneRow.istat_code),
        and_(
            col(CooperativeTerritory.kind) == TerritoryKind.PROVINCIA,
            col(CooperativeTerritory.code) == ComuneRow.province_code,
        ),
        and_(col(CooperativeTerritory.kind) == TerritoryKind.REGIONE, col(CooperativeTerritory.code) == ComuneRow.region),
    )


async def matching_cooperatives(session: AsyncSession, *, comune_istat: str, category: str) -> list[int]:
    """Active cooperatives whose territory contains the comune (itself, its province or region) and that serve the category."""
    return [int(i) for (i,) in await _matching().rows(session, {"comune": comune_istat, "category": category})]


@functools.cache
def _matching() -> Plain:
    """`matching_cooperatives`'s query, built once: a need's filing turn asks it twice (who covers it,
    then where it goes), and building it cost more than running it (issue 18); on the plain lane in a turn."""
    return Plain(
        select(Cooperative.id)
        .join(CooperativeCategory, col(CooperativeCategory.cooperative_id) == col(Cooperative.id))
        .join(CooperativeTerritory, col(CooperativeTerritory.cooperative_id) == col(Cooperative.id))
        .join(ComuneRow, territory_contains())
        .where(
            col(Cooperative.is_active),
            col(CooperativeCategory.category_slug) == bindparam("category"),
            col(ComuneRow.istat_code) == bindparam("comune"),
        )
        .distinct()
        .order_by(col(Cooperative.id))
    )


async def assign(session: AsyncSession, *, need_id: str, cooperative_ids: Sequence[int], at: datetime) -> None:
    session.add_all(NeedAssignment(need_id=need_id, cooperative_id=c, routed_at=at) for c in cooperative_ids)
    await session.flush()


async def assigned_cooperatives(session: AsyncSession, *, need_id: str, include_declined: bool = False) -> list[int]:
    query = select(NeedAssignment.cooperative_id).where(NeedAssignment.need_id == need_id)
    if not include_declined:
        query = query.where(NeedAssignment.status == AssignmentStatus.ROUTED)
    return [int(i) for i in (await session.execute(query.order_by(col(NeedAssignment.cooperative_id)))).scalars()]


async def is_assigned(session: AsyncSession, *, need_id: str, cooperative_id: int) -> bool:
    found = await session.scalar(
        select(NeedAssignment.id).where(
            NeedAssignment.need_id == need_id,
            NeedAssignment.cooperative_id == cooperative_id,
            NeedAssignment.status == AssignmentStatus.ROUTED,
        )
    )
    return found is not None


async def by_ticket(session: AsyncSession, *, ticket: str) -> Need | None:
    query = select(Need).where(Need.ticket == ticket)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def claim(session: AsyncSession, *, need_id: str, cooperative_id: int, operator_id: int, at: datetime) -> bool:
    """Take a need, only if it is still new: the conditional UPDATE makes the first claim win.

    On PostgreSQL a concurrent claimer waits on the row lock, then re-checks
    `status = 'nuova'` and updates nothing; on SQLite writers are serialised by
    BEGIN IMMEDIATE. Either way exactly one caller gets True.
    """
    result = await session.execute(
        update(Need)
        .where(col(Need.id) == need_id, col(Need.status) == NeedStatus.NEW)
        .values(
            status=NeedStatus.CLAIMED,
            claimed_by_cooperative_id=cooperative_id,
            claimed_by_operator_id=operator_id,
            claimed_at=at,
            updated_at=at,
        )
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    session.add(
        NeedStatusChange(
            need_id=need_id,
            from_status=NeedStatus.NEW,
            to_status=NeedStatus.CLAIMED,
            actor=f"operator:{operator_id}",
            operator_id=operator_id,
            cooperative_id=cooperative_id,
            at=at,
        )
    )
    return True


async def change_status(
    session: AsyncSession,
    *,
    need_id: str,
    from_status: str,
    to_status: NeedStatus,
    actor: str,
    note: str | None,
    at: datetime,
    operator_id: int | None = None,
) -> bool:
    """Move a need from `from_status` to `to_status` if nobody moved it meanwhile; records the history row."""
    values: dict[str, object] = {"status": to_status, "updated_at": at}
    if to_status == NeedStatus.RESOLVED:
        values["resolved_at"] = at
    if to_status in ENDED_STATUSES:
        values["closed_at"] = func.coalesce(Need.closed_at, at)
    result = await session.execute(
        update(Need).where(col(Need.id) == need_id, col(Need.status) == from_status).values(**values)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    session.add(
        NeedStatusChange(
            need_id=need_id, from_status=from_status, to_status=to_status, actor=actor, operator_id=operator_id, note=note, at=at
        )
    )
    return True


async def decline(session: AsyncSession, *, need_id: str, cooperative_id: int, operator_id: int, at: datetime) -> bool:
    result = await session.execute(
        update(NeedAssignment)
        .where(
            col(NeedAssignment.need_id) == need_id,
            col(NeedAssignment.cooperative_id) == cooperative_id,
            col(NeedAssignment.status) == AssignmentStatus.ROUTED,
        )
        .values(status=AssignmentStatus.DECLINED, declined_at=at, declined_by_operator_id=operator_id)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def add_note(session: AsyncSession, *, need_id: str, operator_id: int, text: str, at: datetime) -> None:
    session.add(NeedNote(need_id=need_id, operator_id=operator_id, text=text, at=at))
    await session.flush()


def _cooperative_scope(cooperative_id: int) -> object:
    """Needs a cooperative sees: new ones routed to it (not declined), and the ones it claimed."""
    offered = (
        select(NeedAssignment.need_id)
        .where(NeedAssignment.cooperative_id == cooperative_id, NeedAssignment.status == AssignmentStatus.ROUTED)
    )
    return or_(
        and_(col(Need.status) == NeedStatus.NEW, col(Need.id).in_(offered)),
        col(Need.claimed_by_cooperative_id) == cooperative_id,
    )


async def open_needs(
    session: AsyncSession, *, cooperative_id: int, offset: int, limit: int
) -> tuple[int, Sequence[tuple[Need, ComuneRow, Category]]]:
    """The cooperative's open needs, most urgent then newest first, one page; and how many in all."""
    scope = and_(_cooperative_scope(cooperative_id), col(Need.status).in_(OPEN_STATUSES))  # type: ignore[arg-type]
    total = int(await session.scalar(select(func.count()).select_from(Need).where(scope)) or 0)
    urgency_rank = case({Urgency.HIGH: 0, Urgency.MEDIUM: 1, Urgency.LOW: 2}, value=col(Need.urgency), else_=3)
    result = await session.execute(
        select(Need, ComuneRow, Category)
        .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
        .join(Category, col(Category.slug) == col(Need.category_slug))
        .where(scope)
        .order_by(urgency_rank, col(Need.created_at).desc(), col(Need.id))
        .offset(offset)
        .limit(limit)
    )
    return total, [(n, c, k) for n, c, k in result.all()]


async def visible_to(session: AsyncSession, *, need: Need, cooperative_id: int) -> bool:
    if need.claimed_by_cooperative_id == cooperative_id:
        return True
    return await is_assigned(session, need_id=need.id, cooperative_id=cooperative_id)


HISTORY_TRANSFER = "trasferita"
"""The status a transfer shows in the history: its row keeps the status and names the cooperative."""


async def history(session: AsyncSession, *, need_id: str) -> Sequence[tuple[datetime, str, str | None, int | None, str | None]]:
    """Status changes, transfers and notes, oldest first: (at, status or "nota" or "trasferita",
    note text, the operator behind it, the cooperative a transfer gave it to)."""
    changes = await session.execute(
        sa_select(  # sqlmodel's select takes at most four columns
            col(NeedStatusChange.at),
            col(NeedStatusChange.from_status),
            col(NeedStatusChange.to_status),
            col(NeedStatusChange.note),
            col(NeedStatusChange.operator_id),
            col(Cooperative.name),
        )
        .outerjoin(Cooperative, col(Cooperative.id) == col(NeedStatusChange.cooperative_id))
        .where(col(NeedStatusChange.need_id) == need_id)
    )
    notes = await session.execute(select(NeedNote.at, NeedNote.text, NeedNote.operator_id).where(NeedNote.need_id == need_id))
    items: list[tuple[datetime, str, str | None, int | None, str | None]] = [
        (a, HISTORY_TRANSFER, n, o, c) if f == s else (a, str(s), n, o, None) for a, f, s, n, o, c in changes.all()
    ]
    items += [(a, "nota", t, o, None) for a, t, o in notes.all()]
    return sorted(items, key=lambda item: item[0])


async def comune_and_category(session: AsyncSession, *, need: Need) -> tuple[ComuneRow, Category]:
    comune = await session.get(ComuneRow, need.comune_istat)
    category = await session.get(Category, need.category_slug)
    assert comune is not None and category is not None
    return comune, category


async def assignment_status(session: AsyncSession, *, need_id: str, cooperative_id: int) -> str | None:
    """An `AssignmentStatus`, or None when the need was never routed to this cooperative."""
    found = await session.scalar(
        select(NeedAssignment.status).where(
            NeedAssignment.need_id == need_id, NeedAssignment.cooperative_id == cooperative_id
        )
    )
    return str(found) if found is not None else None
