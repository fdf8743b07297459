"""Scheduler jobs of the admin side: broadcast progress reports, and purging last messages to erased citizens."""

from __future__ import annotations

from datetime import datetime

from bot.app import Core
from bot.staff import report_broadcasts
from storage import erasure
from storage.db import transaction


async def finish_broadcasts(core: Core, now: datetime) -> int:
    """Tell each admin whose `/annuncio` has no pending row left how it went."""
    async with transaction(core.sessions) as session:
        return await report_broadcasts(session, core.translator, now=now)


async def purge_erased(core: Core, now: datetime) -> int:
    """A last message to an erased citizen that failed or was held is never sent: pseudonymise it anyway."""
    async with transaction(core.sessions) as session:
        return await erasure.purge_sent(session, message_ids=await erasure.unpurged(session))
