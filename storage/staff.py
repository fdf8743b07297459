"""Staff: granted admin roles, operator and cooperative listings, the audit trail, broadcasts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import Role
from storage import outbox
from storage.audit import AuditAction
from storage.models import (
    AuditLog,
    Broadcast,
    Citizen,
    Cooperative,
    DigestRun,
    Need,
    Operator,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
)

BATCH: int = 500
"""Outbox rows inserted per statement for a broadcast: one round trip each, memory stays flat."""


async def is_granted_admin(session: AsyncSession, *, channel: str, external_id: str) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(StaffRole)
        .where(
            col(StaffRole.channel) == channel,
            col(StaffRole.external_id) == external_id,
            col(StaffRole.role) == Role.ADMIN,
            col(StaffRole.revoked_at).is_(None),
        )
    )
    return bool(found)


async def granted_admins(session: AsyncSession) -> list[StaffRole]:
    rows = await session.execute(
        select(StaffRole).where(col(StaffRole.role) == Role.ADMIN, col(StaffRole.revoked_at).is_(None))
    )
    return list(rows.scalars())


async def grant_admin(session: AsyncSession, *, channel: str, external_id: str, by: str, now: datetime) -> bool:
    """False when they already are one (granting twice changes nothing)."""
    if await is_granted_admin(session, channel=channel, external_id=external_id):
        return False
    session.add(StaffRole(channel=channel, external_id=external_id, granted_by=by[:64], granted_at=now))
    return True


async def revoke_admin(session: AsyncSession, *, channel: str, external_id: str, by: str, now: datetime) -> int:
    result = await session.execute(
        update(StaffRole)
        .where(
            col(StaffRole.channel) == channel,
            col(StaffRole.external_id) == external_id,
            col(StaffRole.revoked_at).is_(None),
        )
        .values(revoked_at=now, revoked_by=by[:64])
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def operator_rows(session: AsyncSession) -> list[tuple[Operator, Cooperative]]:
    rows = await session.execute(
        select(Operator, Cooperative)
        .join(Cooperative, col(Cooperative.id) == col(Operator.cooperative_id))
        .order_by(col(Cooperative.slug), col(Operator.id))
    )
    return [(op, coop) for op, coop in rows.all()]


async def revoke_operator(session: AsyncSession, *, operator_id: int) -> bool:
    result = await session.execute(
        update(Operator).where(col(Operator.id) == operator_id, col(Operator.is_active).is_(True)).values(is_active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def cooperative_rows(session: AsyncSession) -> list[tuple[Cooperative, int]]:
    """Every cooperative with its number of active operators."""
    active = (
        select(func.count())
        .select_from(Operator)
        .where(col(Operator.cooperative_id) == col(Cooperative.id), col(Operator.is_active).is_(True))
        .scalar_subquery()
    )
    rows = await session.execute(select(Cooperative, active).order_by(col(Cooperative.slug)))
    return [(coop, int(n)) for coop, n in rows.all()]


async def last_digests(session: AsyncSession) -> dict[int, datetime]:
    """When each cooperative's digest last went or was asked for (`/digest_ora`), the later of the two.

    The request is audited in the admin's own turn, before the digest's run row is written in the
    background, so a second `/digest_ora` right after the first already sees it.
    """
    runs = select(DigestRun.cooperative_id, func.max(DigestRun.started_at)).group_by(col(DigestRun.cooperative_id))
    asked = (
        select(AuditLog.cooperative_id, func.max(AuditLog.at))
        .where(col(AuditLog.action) == AuditAction.DIGEST_REQUESTED, col(AuditLog.cooperative_id).is_not(None))
        .group_by(col(AuditLog.cooperative_id))
    )
    last: dict[int, datetime] = {}
    for query in (runs, asked):
        for cooperative_id, at in (await session.execute(query)).all():
            if cooperative_id is not None and at is not None:
                last[int(cooperative_id)] = max(at, last.get(int(cooperative_id), at))
    return last


async def audit_tail(session: AsyncSession, *, limit: int) -> list[AuditLog]:
    rows = await session.execute(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit))
    return list(rows.scalars())


async def audit_names(
    session: AsyncSession, *, need_ids: Collection[str], cooperative_ids: Collection[int], operator_ids: Collection[int]
) -> tuple[dict[str, str], dict[int, str], dict[int, str]]:
    """What `/audit` shows instead of ids: tickets by need id, slugs by cooperative id, the cooperative's slug by operator id."""
    tickets: dict[str, str] = {}
    slugs: dict[int, str] = {}
    of_operator: dict[int, str] = {}
    if need_ids:
        found = await session.execute(select(Need.id, Need.ticket).where(col(Need.id).in_(list(need_ids))))
        tickets = {str(i): str(t) for i, t in found.all()}
    if cooperative_ids:
        found = await session.execute(select(Cooperative.id, Cooperative.slug).where(col(Cooperative.id).in_(list(cooperative_ids))))
        slugs = {int(i): str(s) for i, s in found.all()}
    if operator_ids:
        found = await session.execute(
            select(Operator.id, Cooperative.slug)
            .join(Cooperative, col(Cooperative.id) == col(Operator.cooperative_id))
            .where(col(Operator.id).in_(list(operator_ids)))
        )
        of_operator = {int(i): str(s) for i, s in found.all()}
    return tickets, slugs, of_operator


def _audience(comune_istat: str | None, category: str | None) -> ColumnElement[bool]:
    """Citizens an announcement may reach: consented, not opted out of anything, not erased, within the filters."""
    conditions: list[ColumnElement[bool]] = [
        col(Citizen.consent_version).is_not(None),
        col(Citizen.opted_out_at).is_(None),
        col(Citizen.broadcasts_refused_at).is_(None),
        col(Citizen.erased_at).is_(None),
        col(Citizen.is_unreachable).is_(False),
    ]
    need_filters: list[ColumnElement[bool]] = []
    if comune_istat is not None:
        need_filters.append(col(Need.comune_istat) == comune_istat)
    if category is not None:
        need_filters.append(col(Need.category_slug) == category)
    if need_filters:
        conditions.append(exists().where(col(Need.citizen_id) == col(Citizen.id), *need_filters))
    return and_(*conditions)


async def count_audience(session: AsyncSession, *, comune_istat: str | None, category: str | None) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Citizen).where(_audience(comune_istat, category))) or 0
    )


async def create_broadcast(
    session: AsyncSession,
    *,
    texts: Mapping[str, str],
    comune_istat: str | None,
    category: str | None,
    requested_channel: str,
    requested_by: str,
    channels: Sequence[str] | None = None,
    now: datetime,
) -> Broadcast:
    """Insert the broadcast and one outbox row per recipient (text in their language), in batches of `BATCH`.

    The rows are plain pending outbox rows: the dispatcher sends them within each channel's
    rate limits like any other message, interleaved with replies to people writing now.
    """
    row = Broadcast(
        requested_channel=requested_channel,
        requested_by=requested_by,
        comune_istat=comune_istat,
        category_slug=category,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    fallback = next(iter(texts.values()))
    query = select(Citizen.id, Citizen.channel, Citizen.external_id, Citizen.language).where(_audience(comune_istat, category))
    if channels is not None:
        query = query.where(col(Citizen.channel).in_(channels))
    result = await session.stream(query.order_by(col(Citizen.id)).execution_options(yield_per=BATCH))
    total = 0
    async for part in result.partitions(BATCH):
        values = [
            {
                "channel": channel,
                "recipient": external_id,
                "citizen_id": cid,
                "text": texts.get(language, fallback),
                "options": [],
                "number_hint": "",
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "broadcast_id": row.id,
                "purge_recipient": False,
            }
            for cid, channel, external_id, language in part
        ]
        await session.execute(insert(OutboxMessage), values)
        total += len(values)
    outbox.note_written(session, None)  # thousands of chats: the dispatcher claims as for news it cannot place
    row.recipients = total
    return row


async def broadcast_tally(session: AsyncSession, *, broadcast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(col(OutboxMessage.status), func.count())
        .where(col(OutboxMessage.broadcast_id) == broadcast_id)
        .group_by(col(OutboxMessage.status))
    )
    return {str(s): int(n) for s, n in rows.all()}


async def unreported_broadcasts(session: AsyncSession) -> list[Broadcast]:
    rows = await session.execute(select(Broadcast).where(col(Broadcast.reported_at).is_(None)).order_by(col(Broadcast.id)))
    return list(rows.scalars())


