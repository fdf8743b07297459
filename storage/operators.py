"""Operators and invites: single-use, expiring codes, and who works for which cooperative."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import OperatorRole
from storage.audit import AuditAction
from storage.models import AuditLog, Citizen, Cooperative, Invite, Operator


async def create_invite(
    session: AsyncSession,
    *,
    cooperative_id: int,
    code: str,
    expires_at: datetime,
    now: datetime,
    role: OperatorRole = OperatorRole.OPERATOR,
) -> Invite:
    row = Invite(code=code, cooperative_id=cooperative_id, role=role, created_at=now, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row


async def invite_with_cooperative(session: AsyncSession, *, code: str) -> tuple[Invite, Cooperative] | None:
    result = await session.execute(
        select(Invite, Cooperative)
        .join(Cooperative, col(Cooperative.id) == col(Invite.cooperative_id))
        .where(Invite.code == code)
    )
    found = result.first()
    return (found[0], found[1]) if found else None


async def invite_refusals(session: AsyncSession, *, channel: str, external_id: str, since: datetime) -> int:
    """Invite codes refused to this chat identity since `since` (their audit rows, actor ``citizen:<id>``)."""
    citizen_id = await session.scalar(
        select(Citizen.id).where(col(Citizen.channel) == channel, col(Citizen.external_id) == external_id)
    )
    if citizen_id is None:
        return 0
    count = await session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(
            col(AuditLog.action) == AuditAction.INVITE_REFUSED,
            col(AuditLog.actor) == f"citizen:{citizen_id}",
            col(AuditLog.at) >= since,
        )
    )
    return int(count or 0)


async def use_invite(session: AsyncSession, *, code: str, operator_id: int, now: datetime) -> bool:
    """Mark the invite used, only if it still is unused and unexpired: True for the one who wins."""
    result = await session.execute(
        update(Invite)
        .where(col(Invite.code) == code, col(Invite.used_at).is_(None), col(Invite.expires_at) > now)
        .values(used_at=now, used_by_operator_id=operator_id)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def enrol(
    session: AsyncSession,
    *,
    cooperative_id: int,
    channel: str,
    external_id: str,
    citizen_id: int | None,
    role: str,
    language: str,
    now: datetime,
) -> Operator:
    """A new operator, or the same chat identity back after a revocation (its row is reused: one per identity)."""
    found: Operator | None = await session.scalar(
        select(Operator).where(col(Operator.channel) == channel, col(Operator.external_id) == external_id)
    )
    if found is not None:
        found.sqlmodel_update(
            {"cooperative_id": cooperative_id, "citizen_id": citizen_id, "role": role, "language": language, "is_active": True, "created_at": now}
        )
        await session.flush()
        return found
    row = Operator(
        cooperative_id=cooperative_id,
        channel=channel,
        external_id=external_id,
        citizen_id=citizen_id,
        role=role,
        language=language,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def by_identity(
    session: AsyncSession, *, channel: str, external_id: str
) -> tuple[Operator, Cooperative] | None:
    """The active operator behind a chat identity, with their (active) cooperative."""
    result = await session.execute(
        select(Operator, Cooperative)
        .join(Cooperative, col(Cooperative.id) == col(Operator.cooperative_id))
        .where(
            Operator.channel == channel,
            Operator.external_id == external_id,
            col(Operator.is_active),
            col(Cooperative.is_active),
        )
    )
    found = result.first()
    return (found[0], found[1]) if found else None


async def of_cooperatives(session: AsyncSession, *, cooperative_ids: Sequence[int]) -> Sequence[Operator]:
    if not cooperative_ids:
        return []
    result = await session.execute(
        select(Operator)
        .where(col(Operator.cooperative_id).in_(cooperative_ids), col(Operator.is_active))
        .order_by(col(Operator.id))
    )
    return result.scalars().all()
