"""Retention beyond the needs: the copies of a citizen's words in sent messages and abandoned conversations.

`storage.followups.anonymise` empties needs closed long ago; these empty every other copy after its
own period (`bot/jobs/retention.py`, settings in ``[privacy]``). Counts, statuses and dates stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Text, cast, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.erasure import ERASED
from storage.models import Conversation, OutboxMessage, OutboxStatus

EXPIRED: Final = "[scaduto]"
"""What a message's text reads once its retention period passed: the row stays (delivery history, tallies)."""


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def expire_messages(session: AsyncSession, *, created_before: datetime) -> int:
    """Empty text, buttons and attachment of every message that is no longer waiting and older than the period.

    A reply echoes the citizen's description and phone (the summary), a routed need quotes them
    to operators, a detail shows notes: after `[privacy] outbox_text_days` none of that is needed
    for delivery any more. Pending rows are never touched (they still have to go out).
    """
    result = await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.status) != OutboxStatus.PENDING,
            col(OutboxMessage.created_at) < created_before,
            col(OutboxMessage.text).not_in((EXPIRED, ERASED)),
        )
        .values(text=EXPIRED, options=[], attachment_path=None, attachment_type=None)
        .execution_options(synchronize_session=False)
    )
    return _count(result)


async def expire_conversations(session: AsyncSession, *, idle_before: datetime) -> int:
    """Empty the answers of conversations left idle since `idle_before` (after the idle timeout and a grace).

    Flow and step stay, so the citizen's next message still hears that the conversation expired;
    the version moves on, so a turn that read the old state is replayed on the empty one.
    """
    result = await session.execute(
        update(Conversation)
        .where(
            col(Conversation.updated_at) < idle_before,
            or_(cast(Conversation.answers, Text) != "{}", cast(Conversation.history, Text) != "[]"),
        )
        .values(answers={}, history=[], version=col(Conversation.version) + 1)
        .execution_options(synchronize_session=False)
    )
    return _count(result)


async def files_waiting(session: AsyncSession) -> set[str]:
    """Attachments (exports, charts) named by a message still waiting to go: not deleted yet."""
    rows = await session.execute(
        select(OutboxMessage.attachment_path).where(
            col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.attachment_path).is_not(None)
        )
    )
    return {str(p) for p in rows.scalars() if p}
