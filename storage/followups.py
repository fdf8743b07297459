"""Scheduled work on needs: what is due (follow-up, satisfaction, reminder, escalation), run rows, retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import ENDED_STATUSES, OPEN_STATUSES, FollowUpKind, NeedStatus, Urgency
from storage import threads
from storage.models import FollowUp, Need, NeedAttachment, NeedNote, NeedStatusChange


def _not_done(kind: FollowUpKind) -> ColumnElement[bool]:
    return ~exists().where(col(FollowUp.need_id) == col(Need.id), col(FollowUp.kind) == kind)


async def due(session: AsyncSession, *, kind: FollowUpKind, before: datetime, limit: int) -> Sequence[Need]:
    """Needs whose `kind` message is due (their reference time is before `before`) and not yet recorded."""
    alive = col(Need.anonymised_at).is_(None)
    order: Any
    if kind == FollowUpKind.STILL_NEEDED:
        where = and_(col(Need.status).in_(OPEN_STATUSES), col(Need.created_at) <= before, col(Need.citizen_id).is_not(None))
        order = col(Need.created_at)
    elif kind == FollowUpKind.SATISFACTION:
        where = and_(col(Need.status) == NeedStatus.RESOLVED, col(Need.resolved_at) <= before, col(Need.citizen_id).is_not(None))
        order = col(Need.resolved_at)
    else:  # reminders and escalations: urgent and still unclaimed
        where = and_(col(Need.status) == NeedStatus.NEW, col(Need.urgency) == Urgency.HIGH, col(Need.created_at) <= before)
        order = col(Need.created_at)
    result = await session.execute(
        select(Need).where(where, alive, _not_done(kind)).order_by(order, col(Need.id)).limit(limit)
    )
    return result.scalars().all()


async def record(session: AsyncSession, *, need_id: str, kind: FollowUpKind, now: datetime) -> bool:
    """Write the run row before sending; False when it exists (another worker, or an earlier run)."""
    try:
        async with session.begin_nested():
            session.add(FollowUp(need_id=need_id, kind=kind, sent_at=now))
    except IntegrityError:
        return False
    return True


async def anonymise(session: AsyncSession, *, closed_before: datetime, now: datetime) -> int:
    """Erase free text and contact of needs closed before `closed_before`; counts, dates, category and comune stay.

    Returns how many needs were anonymised.
    """
    target = select(col(Need.id)).where(
        col(Need.status).in_(ENDED_STATUSES), col(Need.closed_at) <= closed_before, col(Need.anonymised_at).is_(None)
    )
    await session.execute(delete(NeedAttachment).where(col(NeedAttachment.need_id).in_(target)))
    await session.execute(update(NeedNote).where(col(NeedNote.need_id).in_(target)).values(text=""))
    await session.execute(update(NeedStatusChange).where(col(NeedStatusChange.need_id).in_(target)).values(note=None))
    await threads.erase(session, need_ids=target)  # the messages between the cooperative and the citizen
    result = await session.execute(
        update(Need)
        .where(col(Need.id).in_(target))
        .values(
            description="",
            contact_phone=None,
            latitude=None,
            longitude=None,
            satisfaction_comment=None,
            anonymised_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def answer(session: AsyncSession, *, need_id: str, kind: FollowUpKind, answer: str, at: datetime) -> None:
    """Record the citizen's answer to a follow-up message (the first 16 characters: a code, not prose)."""
    await session.execute(
        update(FollowUp)
        .where(col(FollowUp.need_id) == need_id, col(FollowUp.kind) == kind)
        .values(answered_at=at, answer=answer[:16])
    )
