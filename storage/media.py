"""Downloaded copies of inbound media: which attachments wait for a fetch, and what became of each try."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import leases
from storage.models import FetchStatus, NeedAttachment

ERROR_LENGTH: Final = 64


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int) -> Sequence[NeedAttachment]:
    """Pending attachments whose try is due, each leased until `lease_until` and counted as one more attempt.

    The lease is a conditional update, so two workers never fetch the same file at once;
    a worker that dies mid-download leaves a lease that simply runs out.
    """
    claimed = await leases.claim(
        session,
        id_=NeedAttachment.id,  # type: ignore[arg-type]
        status=NeedAttachment.fetch_status,  # type: ignore[arg-type]
        due=NeedAttachment.fetch_due_at,  # type: ignore[arg-type]
        attempts=NeedAttachment.fetch_attempts,  # type: ignore[arg-type]
        pending=FetchStatus.PENDING,
        now=now,
        lease_until=lease_until,
        limit=limit,
    )
    if not claimed:
        return []
    rows = await session.execute(
        select(NeedAttachment).where(col(NeedAttachment.id).in_(claimed)).order_by(col(NeedAttachment.id))
    )
    return rows.scalars().all()


async def mark_stored(session: AsyncSession, *, attachment_id: int, local_path: str, size: int, sha256: str) -> bool:
    """Record the local copy; False when the attachment is gone (erased meanwhile): the caller deletes the file."""
    result = await session.execute(
        update(NeedAttachment)
        .where(col(NeedAttachment.id) == attachment_id, col(NeedAttachment.fetch_status) == FetchStatus.PENDING)
        .values(
            local_path=local_path, size=size, sha256=sha256, fetch_status=FetchStatus.STORED, fetch_due_at=None, fetch_error=None
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def mark_failed(session: AsyncSession, *, attachment_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed try: tried again at `retry_at`, or given up for good when it is None (the URL stays recorded)."""
    values: dict[str, object] = {"fetch_error": error[:ERROR_LENGTH]}
    if retry_at is None:
        values.update(fetch_status=FetchStatus.FAILED, fetch_due_at=None)
    else:
        values.update(fetch_due_at=retry_at)
    await session.execute(
        update(NeedAttachment)
        .where(col(NeedAttachment.id) == attachment_id, col(NeedAttachment.fetch_status) == FetchStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def referenced(session: AsyncSession, *, paths: Collection[str]) -> set[str]:
    """Which of `paths` an attachment row still records (the others are left over from erasure or retention)."""
    found: set[str] = set()
    chunk = list(paths)
    for start in range(0, len(chunk), 500):
        rows = await session.execute(
            select(NeedAttachment.local_path).where(col(NeedAttachment.local_path).in_(chunk[start : start + 500]))
        )
        found.update(p for p in rows.scalars() if p is not None)
    return found
