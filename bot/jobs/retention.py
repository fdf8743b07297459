"""Retention jobs: anonymise needs closed long ago, and pseudonymise last messages to erased citizens."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot import media
from bot.core import Services
from storage import audit, deferred, erasure, followups
from storage.audit import AuditAction
from storage.db import transaction

logger = logging.getLogger(__name__)


async def apply_retention(core: Services, now: datetime) -> int:
    """Anonymise needs closed longer than `privacy.retention_days` (the period the privacy notice promises)."""
    before = now - timedelta(days=core.settings.privacy.retention_days)
    async with transaction(core.sessions) as session:
        count = await followups.anonymise(session, closed_before=before, now=now)
        await deferred.expire(session, received_before=before)  # messages waiting that long: no worker ran
        if count:
            await audit.record(session, actor="system", action=AuditAction.NEEDS_ANONYMISED, detail=str(count), at=now)
    if count:
        logger.info("anonymised %s need(s)", count)
    # Their downloaded media go too; the sweep also catches copies an interrupted erasure left.
    await media.sweep(core.sessions, core.settings.whatsapp.media_dir)
    return count


async def purge_erased(core: Services, now: datetime) -> int:
    """A last message to an erased citizen that failed or was held is never sent: pseudonymise it anyway."""
    async with transaction(core.sessions) as session:
        return await erasure.purge_sent(session, message_ids=await erasure.unpurged(session))
