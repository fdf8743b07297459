"""The demand summary job: keeps the public pages' monthly counts fresh (`storage.demand_summary`).

One job, every scheduler scan and once soon after start: it recomputes the recent months (claims,
resolutions, declines and satisfaction answers land there) and, on its first run after
`FULL_HOUR` each night, every month, so a late change to an old need is counted by the morning.
Until its first run ends, pages count on the needs (`storage.demand.read`), so a fresh install
shows right figures at once and `ascolto run` never waits for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from bot.core import Services
from storage import demand_summary

logger = logging.getLogger(__name__)

FULL_HOUR: Final = 3
"""Local hour from which the day's first run recomputes every month (a quiet hour, like retention's)."""


def is_full_due(last_full: datetime | None, now: datetime, timezone: str) -> bool:
    """True for the first run at or after `FULL_HOUR` on a day without a full run yet (or never run)."""
    if last_full is None:
        return True
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return last_full.astimezone(zone).date() < local.date() and local.hour >= FULL_HOUR


async def refresh_demand(core: Services, now: datetime) -> int:
    """Recompute the summary's months that may have changed; returns how many months were recomputed."""
    if not core.settings.public.enabled:
        return 0
    timezone = core.settings.app.timezone
    async with core.sessions() as session:
        found = await demand_summary.state(session)
    full = is_full_due(found.full_at if found is not None else None, now, timezone)
    done = await demand_summary.refresh(core.sessions, now=now, timezone=timezone, full=full)
    logger.info("demand summary: %s month(s), %s row(s)%s", done.months, done.rows, " (all months)" if done.is_full else "")
    return done.months
