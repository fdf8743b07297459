"""The scheduler: every job in one table with its trigger, time zone and misfire policy (APScheduler 3.x, asyncio)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import utc_now
from bot.config import SchedulerSettings
from bot.core import Core
from bot.jobs.broadcasts import finish_broadcasts
from bot.jobs.demand import refresh_demand
from bot.jobs.digest import send_digest
from bot.jobs.followups import ask_satisfaction, remind_unclaimed, send_follow_ups
from bot.jobs.retention import apply_retention, purge_erased
from storage import cooperatives

logger = logging.getLogger(__name__)

JobFn = Callable[[Core, datetime], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One row of the job table; `trigger` builds the APScheduler trigger from the settings."""

    id: str
    run: JobFn
    trigger: Callable[[SchedulerSettings], BaseTrigger]
    misfire: str = "grace"
    """``grace``: a run missed by less than `misfire_grace_seconds` still happens, once (coalesce)."""
    soon_after_start: bool = False
    """Also run `START_DELAY` after start (in the background: start never waits for it)."""


def _every_scan(s: SchedulerSettings) -> BaseTrigger:
    return IntervalTrigger(minutes=s.scan_minutes, timezone=ZoneInfo(s.timezone))


def _nightly(s: SchedulerSettings) -> BaseTrigger:
    return CronTrigger(hour=3, minute=30, timezone=ZoneInfo(s.timezone))


JOBS: Final = (
    JobSpec("follow_ups", send_follow_ups, _every_scan),
    JobSpec("satisfaction", ask_satisfaction, _every_scan),
    JobSpec("reminders", remind_unclaimed, _every_scan),
    JobSpec("retention", apply_retention, _nightly),
    JobSpec("broadcast_reports", finish_broadcasts, _every_scan),
    JobSpec("erasure_purge", purge_erased, _nightly),
    JobSpec("demand_summary", refresh_demand, _every_scan, soon_after_start=True),
)
"""Fixed jobs. Each cooperative adds ``digest:<id>``: a CronTrigger from its own `digest_cron` in its own
time zone (Europe/Rome by default), with the same misfire policy. Every job is idempotent through its
run rows (`follow_up`, `digest_run`), so a restart, a catch-up or a second worker never sends twice."""

START_DELAY: Final = timedelta(seconds=10)
"""A job marked `soon_after_start` first runs this long after start (the public pages' summary: filled
at once on a fresh install, caught up after downtime)."""
DIGEST_SYNC_MINUTES: Final = 15
"""How often cooperatives added or changed by `ascolto coops import` get their digest job."""


class Scheduler:
    """Wraps an `AsyncIOScheduler` with a memory job store of its own (never shared between processes)."""

    def __init__(
        self, core: Core, *, clock: Callable[[], datetime] = utc_now, may_run: Callable[[], bool] = lambda: True
    ) -> None:
        self.core = core
        self.clock = clock
        self.may_run = may_run
        """False on a worker that lost the scheduler lease (`bot/jobs/leader.py`): its jobs then do nothing."""
        s = core.settings.scheduler
        self.aps = AsyncIOScheduler(
            timezone=ZoneInfo(s.timezone),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": s.misfire_grace_seconds},
        )

    async def start(self) -> None:
        s = self.core.settings.scheduler
        for spec in JOBS:
            first = {"next_run_time": datetime.now(ZoneInfo(s.timezone)) + START_DELAY} if spec.soon_after_start else {}
            self.aps.add_job(self._run, spec.trigger(s), args=[spec.id, spec.run], id=spec.id, replace_existing=True, **first)
        self.aps.add_job(
            self.sync_digests, IntervalTrigger(minutes=DIGEST_SYNC_MINUTES, timezone=ZoneInfo(s.timezone)), id="digest_sync"
        )
        await self.sync_digests()
        self.aps.start()
        # The memory job store forgets runs missed while we were down: try each digest once now.
        # `send_digest` sends only a period not yet sent that ended within `digest_catch_up_hours`.
        await self.catch_up()
        logger.info("scheduler started with %s job(s)", len(self.aps.get_jobs()))

    async def catch_up(self) -> None:
        for job in self.aps.get_jobs():
            if job.id.startswith("digest:"):
                await self._run(job.id, *job.args[1:])

    async def sync_digests(self) -> None:
        """One cron job per active cooperative, rebuilt when its schedule changes; gone when it is deactivated."""
        async with self.core.sessions() as session:
            active = await cooperatives.active(session)
        wanted = set()
        for coop in active:
            assert coop.id is not None
            job_id = f"digest:{coop.id}"
            wanted.add(job_id)
            current = self.aps.get_job(job_id)
            if current is not None and getattr(current, "name", "") == coop.digest_cron + "@" + coop.timezone:
                continue
            self.aps.add_job(
                self._run,
                CronTrigger.from_crontab(coop.digest_cron, timezone=ZoneInfo(coop.timezone)),
                args=[job_id, _digest_of(coop.id)],
                id=job_id,
                name=coop.digest_cron + "@" + coop.timezone,
                replace_existing=True,
            )
        for job in self.aps.get_jobs():
            if job.id.startswith("digest:") and job.id not in wanted:
                job.remove()

    async def _run(self, job_id: str, run: JobFn) -> None:
        """Every job goes through here: the time comes from our clock, and an error never kills the scheduler."""
        if not self.may_run():
            logger.info("job %s skipped: this worker is not the scheduler leader", job_id)
            return
        try:
            await run(self.core, self.clock())
        except Exception:
            logger.exception("job %s failed", job_id)
            return
        self.core.wakeups.outbox()  # wakes the dispatcher for what the job queued

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)


def _digest_of(cooperative_id: int) -> JobFn:
    async def run(core: Core, now: datetime) -> object:
        return await send_digest(core, cooperative_id, now)

    return run
