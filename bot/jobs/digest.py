"""The digest job: each cooperative's figures for the last period of its schedule, once, to its operators."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Services
from bot.jobs.chart import render_chart
from bot.notify import Attachment, Recipient, enqueue
from conversations import Msg, Reply
from conversations import digest as digest_text
from storage import cooperatives, digests, operators
from storage.db import transaction
from storage.models import Cooperative

logger = logging.getLogger(__name__)

MAX_LOOKBACK: Final = timedelta(days=400)
"""Longest digest period we look back for (a yearly cron)."""
ON_DEMAND_DAYS: Final = 7
"""`/digest_ora` covers the last 7 days up to the moment it was asked."""


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What a digest run did: ``sent`` (queued to `recipients` operators), ``already`` done, or ``late``."""

    outcome: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    recipients: int = 0


def latest_period(cron: str, timezone: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The last complete period of a crontab schedule: [the fire time before the last, the last fire time ≤ now].

    Both ends come from the schedule, not from when a job happened to run, so two
    workers, a restart or a late catch-up compute the same period (and the same
    run-row key).
    """
    trigger = CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))
    for lookback in (timedelta(days=8), timedelta(days=64), MAX_LOOKBACK):
        fires: list[datetime] = []
        fire = trigger.get_next_fire_time(None, now - lookback)
        while fire is not None and fire <= now:
            fires.append(fire)
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if len(fires) >= 2:
            return fires[-2], fires[-1]
    return None


async def digest_reply(
    core: Services, session: AsyncSession, coop: Cooperative, start: datetime, end: datetime, *, chart_dir: Path | None
) -> tuple[Reply, Path | None]:
    """One period's digest as a reply, with its chart when `chart_dir` is set (`ascolto digest --print` shows it too)."""
    figures = await digests.figures(session, cooperative=coop, period_start=start, period_end=end, language=coop.language)
    zone = ZoneInfo(coop.timezone)
    # The period is [start, end): its last day is the day before `end` (a Monday-8:00 cron covers Monday to Sunday).
    local_start, local_end = start.astimezone(zone).date(), (end - timedelta(seconds=1)).astimezone(zone).date()
    reply = digest_text.render(figures, local_start=local_start, local_end=local_end, threshold=core.settings.public.threshold)
    path = None
    if chart_dir is not None:
        tr = core.translator
        try:
            path = render_chart(
                figures,
                chart_dir / f"{coop.slug}-{start:%Y%m%dT%H%M}.png",
                title=tr.format(digest_text_title(coop.name, local_start, local_end), coop.language),
                current=tr.gettext("digest.chart_current", coop.language),
                previous=tr.gettext("digest.chart_previous", coop.language),
                empty=tr.gettext("chart.empty", coop.language),
                locale=coop.language,
                threshold=core.settings.public.threshold,
            )
        except Exception:  # the chart is a bonus: the figures go out without it
            logger.exception("digest chart for cooperative %s failed", coop.id)
    return reply, path


def digest_text_title(name: str, start: date, end: date) -> Msg:
    return Msg("digest.chart_title", {"cooperative": name, "start": start, "end": end})


def on_demand_period(now: datetime) -> tuple[datetime, datetime]:
    """`/digest_ora`'s period: the last 7 days up to `now`.

    Its run row must never take a scheduled period's key (cooperative, period start): cron fire
    times fall on whole seconds, so an on-demand start is moved to the first microsecond of its
    second when it would fall on a whole one. The figures cannot tell the difference.
    """
    start = now - timedelta(days=ON_DEMAND_DAYS)
    if start.microsecond == 0:
        start = start.replace(microsecond=1)
    return start, now


async def send_digest_now(core: Services, cooperative_id: int, now: datetime) -> DigestResult:
    """`/digest_ora COOP`, run after the admin's turn committed: the last 7 days, to the cooperative's operators."""
    return await send_digest(core, cooperative_id, now, period=on_demand_period(now))


async def send_digest(
    core: Services,
    cooperative_id: int,
    now: datetime,
    *,
    catch_up: timedelta | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> DigestResult:
    """The digest job of one cooperative: run row first, then the figures and the outbox rows, in one transaction.

    A period that ended more than `catch_up` ago is skipped (after a long downtime we send
    the latest period once, not every missed one, and not a stale one). An explicit `period`
    (`/digest_ora`) replaces the schedule's.
    """
    sched = core.settings.scheduler
    catch_up = catch_up if catch_up is not None else timedelta(hours=sched.digest_catch_up_hours)
    async with core.sessions() as session:
        coop = await cooperatives.get(session, cooperative_id=cooperative_id)
    if coop is None or not coop.is_active:
        return DigestResult("inactive")
    if period is None:
        period = latest_period(coop.digest_cron, coop.timezone, now)
    if period is None:
        return DigestResult("no_period")
    start, end = period
    if now - end > catch_up:
        return DigestResult("late", start, end)
    async with transaction(core.sessions) as session:
        run = await digests.record_run(session, cooperative_id=cooperative_id, period_start=start, period_end=end, now=now)
        if run is None:
            logger.info("digest of cooperative %s for %s already done", cooperative_id, start.isoformat())
            return DigestResult("already", start, end)
        reply, chart = await digest_reply(core, session, coop, start, end, chart_dir=sched.digest_dir)
        attachment = Attachment(str(chart)) if chart is not None else None
        staff = await operators.of_cooperatives(session, cooperative_ids=[cooperative_id])
        for op in staff:
            await enqueue(session, core.translator, to=Recipient.of_operator(op), reply=reply, now=now, attachment=attachment)
        run.recipients = len(staff)
    core.wakeups.outbox()
    logger.info("digest of cooperative %s sent to %s operator(s)", cooperative_id, len(staff))
    return DigestResult("sent", start, end, len(staff))
