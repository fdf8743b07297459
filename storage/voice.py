"""Voice notes to transcribe (issue 16): queued with the turn, claimed with a lease, their words kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import leases
from storage.models import Citizen, Need, NeedAttachment, VoiceNote

PENDING: Final = "pending"
ERROR_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class Claimed:
    """A note to listen to, with the identity its words are delivered on (plain values: the rows expire)."""

    id: int
    citizen_id: int
    channel: str
    sender: str
    ref: str
    content_type: str | None
    step: str | None
    attempt: int


async def queue(
    session: AsyncSession, *, citizen_id: int, ref: str, content_type: str | None, step: str | None, now: datetime
) -> None:
    session.add(
        VoiceNote(
            citizen_id=citizen_id, ref=ref[:500], content_type=(content_type or "")[:100] or None,
            step=(step or "")[:64] or None, status=PENDING, due_at=now, created_at=now,
        )
    )


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Pending notes whose try is due, each leased until `lease_until` and counted as one more attempt.

    A conditional update, as `storage.media.claim_due`: two workers never listen to the same note,
    and a worker that dies mid-way leaves a lease that runs out.
    """
    claimed = await leases.claim(
        session,
        id_=VoiceNote.id,  # type: ignore[arg-type]
        status=VoiceNote.status,  # type: ignore[arg-type]
        due=VoiceNote.due_at,  # type: ignore[arg-type]
        attempts=VoiceNote.attempts,  # type: ignore[arg-type]
        pending=PENDING,
        now=now,
        lease_until=lease_until,
        limit=limit,
    )
    if not claimed:
        return []
    rows = await session.execute(
        select(VoiceNote, Citizen.channel, Citizen.external_id)
        .join(Citizen, col(Citizen.id) == col(VoiceNote.citizen_id))
        .where(col(VoiceNote.id).in_(claimed))
        .order_by(col(VoiceNote.id))
    )
    return [
        Claimed(
            id=note.id, citizen_id=note.citizen_id, channel=channel, sender=sender, ref=note.ref,
            content_type=note.content_type, step=note.step, attempt=note.attempts,
        )
        for note, channel, sender in rows.all()
        if note.id is not None
    ]


async def heard(
    session: AsyncSession, *, note_id: int, status: str, transcript: str | None, seconds: float | None
) -> bool:
    """Record what the note said (or that it could not be heard); False when it is gone (erased meanwhile).

    The words also go next to the audio of a need already sent with it (operators read them there).
    """
    result = await session.execute(
        update(VoiceNote)
        .where(col(VoiceNote.id) == note_id, col(VoiceNote.status) == PENDING)
        .values(status=status, transcript=transcript, seconds=seconds, due_at=None)
        .returning(col(VoiceNote.citizen_id), col(VoiceNote.ref))
    )
    row = result.first()
    if row is None:
        return False
    if transcript:
        await attach_transcript(session, citizen_id=row[0], ref=row[1], transcript=transcript)
    return True


async def attach_transcript(session: AsyncSession, *, citizen_id: int, ref: str, transcript: str) -> None:
    await session.execute(
        update(NeedAttachment)
        .where(
            col(NeedAttachment.ref) == ref,
            col(NeedAttachment.need_id).in_(select(Need.id).where(col(Need.citizen_id) == citizen_id)),
        )
        .values(transcript=transcript)
        .execution_options(synchronize_session=False)
    )


async def retry_later(session: AsyncSession, *, note_id: int, error: str, retry_at: datetime) -> None:
    await session.execute(
        update(VoiceNote)
        .where(col(VoiceNote.id) == note_id, col(VoiceNote.status) == PENDING)
        .values(due_at=retry_at, error=error[:ERROR_LENGTH])
        .execution_options(synchronize_session=False)
    )


async def transcripts(session: AsyncSession, *, citizen_id: int) -> dict[str, str]:
    """This citizen's heard notes: reference → words."""
    rows = await session.execute(
        select(VoiceNote.ref, VoiceNote.transcript).where(
            col(VoiceNote.citizen_id) == citizen_id, col(VoiceNote.transcript).is_not(None)
        )
    )
    return {ref: text for ref, text in rows.all() if text is not None}


async def erase(session: AsyncSession, *, citizen_id: int) -> int:
    """Every voice note of a citizen, heard or not (`/cancella_dati`)."""
    result = await session.execute(delete(VoiceNote).where(col(VoiceNote.citizen_id) == citizen_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_before(session: AsyncSession, *, before: datetime) -> int:
    """Notes older than `before` (retention: `privacy.files_days`); a sent need keeps its words with its attachment."""
    result = await session.execute(delete(VoiceNote).where(col(VoiceNote.created_at) < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def of_need(session: AsyncSession, *, need_id: str) -> list[str | None]:
    """The words of each voice note sent with a need, in order (None: not heard), for the operator's view."""
    rows = await session.execute(
        select(NeedAttachment.transcript)
        .where(col(NeedAttachment.need_id) == need_id, col(NeedAttachment.kind) == "voice")
        .order_by(col(NeedAttachment.id))
    )
    return list(rows.scalars())
