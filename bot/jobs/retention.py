"""Retention jobs: every copy of what a citizen told us goes after its period (docs/privacy.md "Retention").

- needs closed more than `[privacy] retention_days` ago: description, phone, position, notes, attachments;
- messages older than `[privacy] outbox_text_days` that are no longer waiting: their text;
- conversations idle longer than the idle timeout plus `[privacy] conversation_grace_hours`: their answers;
- exports and digest charts older than `[privacy] files_days`, unless a waiting message still carries them;
- downloaded media no attachment row names any more.
And the last message to an erased citizen that failed or was held is pseudonymised anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from bot import media
from bot.core import Services
from storage import audit, deferred, erasure, followups, retention, voice
from storage.audit import AuditAction
from storage.db import transaction

logger = logging.getLogger(__name__)

GENERATED: Final = re.compile(r"(richieste-.+\.(csv|xlsx)|[a-z0-9-]+-\d{8}T\d{4}\.png)")
"""The names `/esporta` and the digest give their files: nothing else in those folders is touched."""


@dataclass(frozen=True, slots=True)
class Swept:
    messages: int
    conversations: int
    files: int


async def apply_retention(core: Services, now: datetime) -> int:
    """Anonymise needs closed longer than `privacy.retention_days` (the period the privacy notice promises), and
    expire every other copy; returns how many needs were anonymised."""
    p = core.settings.privacy
    before = now - timedelta(days=p.retention_days)
    idle = timedelta(minutes=core.settings.conversation.idle_timeout_minutes, hours=p.conversation_grace_hours)
    async with transaction(core.sessions) as session:
        count = await followups.anonymise(session, closed_before=before, now=now)
        await deferred.expire(session, received_before=before)  # messages waiting that long: no worker ran
        await voice.purge_before(session, before=now - timedelta(days=p.files_days))  # voice notes and their words
        if count:
            await audit.record(session, actor="system", action=AuditAction.NEEDS_ANONYMISED, detail=str(count), at=now)
        messages = await retention.expire_messages(session, created_before=now - timedelta(days=p.outbox_text_days))
        conversations = await retention.expire_conversations(session, idle_before=now - idle)
        waiting = await retention.files_waiting(session)
    files = delete_old_files(
        (core.settings.admin.export_dir, core.settings.scheduler.digest_dir), older_than=now - timedelta(days=p.files_days), keep=waiting
    )
    swept = Swept(messages, conversations, files)
    if count or messages or conversations or files:
        async with transaction(core.sessions) as session:
            detail = f"messages={swept.messages} conversations={swept.conversations} files={swept.files}"
            await audit.record(session, actor="system", action=AuditAction.PERSONAL_DATA_EXPIRED, detail=detail, at=now)
        logger.info("retention: %s need(s) anonymised, %s", count, detail)
    # Their downloaded media go too; the sweep also catches copies an interrupted erasure left.
    await media.sweep(core.sessions, core.settings.whatsapp.media_dir)
    return count


def delete_old_files(folders: Collection[Path], *, older_than: datetime, keep: Collection[str] = ()) -> int:
    """Delete our generated files last written before `older_than`, except those in `keep`; returns how many."""
    cutoff = older_than.timestamp()
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and GENERATED.fullmatch(path.name) and str(path) not in keep and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


async def purge_erased(core: Services, now: datetime) -> int:
    """A last message to an erased citizen that failed or was held is never sent: pseudonymise it anyway."""
    async with transaction(core.sessions) as session:
        return await erasure.purge_sent(session, message_ids=await erasure.unpurged(session))


