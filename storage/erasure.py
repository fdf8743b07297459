"""The right to erasure: every personal field of one citizen erased or pseudonymised; counts stay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import deferred, threads, voice
from storage.models import (
    Citizen,
    Conversation,
    Need,
    NeedAttachment,
    NeedNote,
    NeedStatusChange,
    OutboxMessage,
    OutboxStatus,
)

ERASED: Final = "[cancellato]"
"""What erased message texts read: the row stays (delivery history, counts), the words go."""


def pseudonym(citizen_id: int) -> str:
    """The external id an erased citizen keeps: unique, and it says nothing about them."""
    return f"erased-{citizen_id}"


async def erase_citizen(session: AsyncSession, *, citizen: Citizen, now: datetime) -> int:
    """Erase what one citizen told us, across needs, notes, history, conversation and outbox.

    Category, comune, urgency, status and dates of their needs stay, so every aggregate
    (digests, `/statistiche`) counts the same. The chat id is kept until the final
    confirmation is sent (`purge_sent` then replaces it). Returns how many needs were touched.
    """
    assert citizen.id is not None
    need_rows = (
        await session.execute(select(Need.id, Need.ticket, Need.contact_phone).where(col(Need.citizen_id) == citizen.id))
    ).all()
    need_ids = [n for n, _, _ in need_rows]
    if need_ids:
        await session.execute(
            update(Need)
            .where(col(Need.id).in_(need_ids))
            .values(description="", contact_phone=None, latitude=None, longitude=None, satisfaction_comment=None, anonymised_at=now)
        )
        await session.execute(delete(NeedAttachment).where(col(NeedAttachment.need_id).in_(need_ids)))
        await session.execute(update(NeedNote).where(col(NeedNote.need_id).in_(need_ids)).values(text=""))
        await session.execute(update(NeedStatusChange).where(col(NeedStatusChange.need_id).in_(need_ids)).values(note=None))
        await threads.erase(session, need_ids=need_ids)  # what they and the cooperative wrote to each other
    await session.execute(
        update(Conversation).where(col(Conversation.citizen_id) == citizen.id).values(answers={}, history=[])
    )
    # Messages to the citizen, and to operators about their needs (a routed need quotes the
    # description; a won claim, the phone): found by the ticket, which every such message names.
    mentions = [col(OutboxMessage.text).contains(ticket, autoescape=True) for _, ticket, _ in need_rows]
    mentions += [col(OutboxMessage.text).contains(phone, autoescape=True) for _, _, phone in need_rows if phone]
    to_them = or_(col(OutboxMessage.citizen_id) == citizen.id, col(OutboxMessage.recipient) == citizen.external_id)
    await session.execute(
        update(OutboxMessage)
        .where(or_(to_them, *mentions))
        .values(text=ERASED, options=[], attachment_path=None, attachment_type=None)
    )
    await session.execute(
        update(OutboxMessage)
        .where(to_them, col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error="erased at the citizen's request")
    )
    await session.execute(
        update(OutboxMessage)
        .where(to_them, col(OutboxMessage.status) != OutboxStatus.PENDING)
        .values(recipient=pseudonym(citizen.id))
    )
    # Messages still waiting for their turn (storage/deferred.py) hold their words whole.
    await deferred.erase(session, citizen_id=citizen.id)
    await voice.erase(session, citizen_id=citizen.id)  # voice notes and their words (issue 16)
    citizen.deferred_inbounds = 0
    citizen.waiting_messages = 0
    threads.close_for(citizen)
    citizen.erased_at = now
    citizen.consent_version = None
    citizen.consent_at = None
    return len(need_ids)


async def tickets_of(session: AsyncSession, *, citizen_id: int) -> list[str]:
    """The ticket codes of a citizen's needs: what names them in files outside the database (exports)."""
    rows = await session.execute(select(Need.ticket).where(col(Need.citizen_id) == citizen_id))
    return [str(t) for t in rows.scalars()]


_TO_PURGE: Final = select(OutboxMessage.id, OutboxMessage.citizen_id).where(
    col(OutboxMessage.id).in_(bindparam("ids", expanding=True)), col(OutboxMessage.purge_recipient).is_(True)
)
"""Built once: the dispatcher asks when a row it sent was written with `purge_recipient` (the erasure confirmation)."""


async def purge_sent(session: AsyncSession, *, message_ids: Sequence[int]) -> int:
    """After the last message to an erased citizen left: pseudonymise the row and the citizen's chat id."""
    if not message_ids:
        return 0
    rows = (await session.execute(_TO_PURGE, {"ids": list(message_ids)})).all()
    for row_id, citizen_id in rows:
        name = pseudonym(citizen_id) if citizen_id is not None else f"erased-row-{row_id}"
        await session.execute(
            update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(recipient=name, text=ERASED, purge_recipient=False)
        )
        if citizen_id is not None:
            await session.execute(
                update(Citizen)
                .where(col(Citizen.id) == citizen_id, col(Citizen.erased_at).is_not(None))
                .values(external_id=name)
            )
    return len(rows)


async def unpurged(session: AsyncSession) -> list[int]:
    """Last messages that ended without being sent (failed, held): purged by the retention job all the same."""
    rows = await session.execute(
        select(OutboxMessage.id).where(
            col(OutboxMessage.purge_recipient).is_(True), col(OutboxMessage.status) != OutboxStatus.PENDING
        )
    )
    return [int(i) for i in rows.scalars() if i is not None]
