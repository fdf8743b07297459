"""Scheduled jobs: plain async functions of the core and `now`; each writes its run row before it sends."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot import media
from bot.core import Services
from bot.chart import render_chart
from bot.notify import Attachment, Recipient, enqueue
from conversations import Context, FollowUpKind, Msg, Reply, notifications
from conversations import digest as digest_text
from conversations.flows import followup, menu
from storage import audit, citizens, conversations, cooperatives, digests, followups, operators, reference, routing
from storage.audit import AuditAction
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


async def _digest_reply(
    core: Services, session: AsyncSession, coop: Cooperative, start: datetime, end: datetime, *, chart_dir: Path | None
) -> tuple[Reply, Path | None]:
    figures = await digests.figures(session, cooperative=coop, period_start=start, period_end=end, language=coop.language)
    zone = ZoneInfo(coop.timezone)
    # The period is [start, end): its last day is the day before `end` (a Monday-8:00 cron covers Monday to Sunday).
    local_start, local_end = start.astimezone(zone).date(), (end - timedelta(seconds=1)).astimezone(zone).date()
    reply = digest_text.render(figures, local_start=local_start, local_end=local_end)
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
        reply, chart = await _digest_reply(core, session, coop, start, end, chart_dir=sched.digest_dir)
        attachment = Attachment(str(chart)) if chart is not None else None
        staff = await operators.of_cooperatives(session, cooperative_ids=[cooperative_id])
        for op in staff:
            await enqueue(session, core.translator, to=Recipient.of_operator(op), reply=reply, now=now, attachment=attachment)
        run.recipients = len(staff)
    core.wakeups.outbox()
    logger.info("digest of cooperative %s sent to %s operator(s)", cooperative_id, len(staff))
    return DigestResult("sent", start, end, len(staff))


async def digest_command(core: Services, *, slug: str, mode: str, at: str | None) -> int:
    """`ascolto digest COOP --print|--send`: print the latest period's digest, or queue it once for the operators."""
    now = datetime.fromisoformat(at) if at else core.clock()
    if now.tzinfo is None:
        now = now.replace(tzinfo=core.translator.tz)
    async with core.sessions() as session:
        coop = await cooperatives.by_slug(session, slug=slug)
    if coop is None or coop.id is None:
        print(f"ascolto: no cooperative {slug!r} (see `ascolto coops list`)", file=sys.stderr)
        return 1
    if mode == "send":
        result = await send_digest(core, coop.id, now, catch_up=timedelta.max)
        if result.outcome == "already":
            print(f"already sent for the period starting {result.period_start}")
        else:
            print(f"queued for {result.recipients} operator(s); `ascolto run` delivers it")
        return 0
    period = latest_period(coop.digest_cron, coop.timezone, now)
    if period is None:
        print("ascolto: the digest schedule has no complete period yet", file=sys.stderr)
        return 1
    async with core.sessions() as session:
        reply, chart = await _digest_reply(core, session, coop, *period, chart_dir=core.settings.scheduler.digest_dir)
    print(core.translator.render(reply, coop.language).text)
    if chart is not None:
        print(f"\n[chart: {chart}]")
    return 0


async def _is_busy(session: AsyncSession, citizen_id: int, now: datetime, core: Services) -> bool:
    state = await conversations.load(session, citizen_id=citizen_id)
    if not state.is_active or state.flow_id == menu.FLOW_ID or state.updated_at is None:
        return False
    return now - state.updated_at < timedelta(minutes=core.settings.conversation.idle_timeout_minutes)


async def _ask_citizens(core: Services, now: datetime, kind: FollowUpKind, before: datetime, flow_id: str) -> int:
    """Start a follow-up flow with each due citizen who is not in the middle of another conversation."""
    flow = core.engine.flows[flow_id]
    ctx = Context(now=now, gazetteer=core.gazetteer, categories=())
    asked = 0
    async with transaction(core.sessions) as session:
        for need in await followups.due(session, kind=kind, before=before, limit=core.settings.scheduler.batch_size):
            citizen = await citizens.get(session, citizen_id=need.citizen_id) if need.citizen_id is not None else None
            if citizen is None or citizen.id is None:
                continue
            if await _is_busy(session, citizen.id, now, core):
                continue  # asked on a later scan, once they are done
            if not await followups.record(session, need_id=need.id, kind=kind, now=now):
                continue
            if citizen.opted_out_at is not None or citizen.is_unreachable:
                continue  # recorded, so we do not try again, but nothing is sent
            state = await conversations.load(session, citizen_id=citizen.id)
            new_state, question = followup.begin(flow, state, ctx, need_id=need.id, ticket=need.ticket)
            await conversations.save(session, citizen_id=citizen.id, state=new_state)
            await enqueue(
                session,
                core.translator,
                to=Recipient.of_citizen(citizen),
                reply=question,
                now=now,
                conversation_version=new_state.version,
            )
            asked += 1
    if asked:
        logger.info("%s: asked %s citizen(s)", kind, asked)
    return asked


async def send_follow_ups(core: Services, now: datetime) -> int:
    """"Is your request still needed?" N days after submission, if it is still open."""
    before = now - timedelta(days=core.settings.scheduler.follow_up_days)
    return await _ask_citizens(core, now, FollowUpKind.STILL_NEEDED, before, followup.STILL_NEEDED_ID)


async def ask_satisfaction(core: Services, now: datetime) -> int:
    """"How did it go?" some hours after a need was resolved."""
    before = now - timedelta(hours=core.settings.scheduler.satisfaction_hours)
    return await _ask_citizens(core, now, FollowUpKind.SATISFACTION, before, followup.SATISFACTION_ID)


async def remind_unclaimed(core: Services, now: datetime) -> int:
    """Urgent needs nobody claimed: remind the cooperatives after H hours, tell the admins after H + E."""
    sched = core.settings.scheduler
    remind_after = timedelta(hours=sched.reminder_hours)
    escalate_after = remind_after + timedelta(hours=sched.escalation_hours)
    done = 0
    async with transaction(core.sessions) as session:
        for need in await followups.due(session, kind=FollowUpKind.REMINDER, before=now - remind_after, limit=sched.batch_size):
            if not await followups.record(session, need_id=need.id, kind=FollowUpKind.REMINDER, now=now):
                continue
            coops = await routing.assigned_cooperatives(session, need_id=need.id)
            for op in await operators.of_cooperatives(session, cooperative_ids=coops):
                category, comune = await reference.labels(
                    session, category_slug=need.category_slug, comune_istat=need.comune_istat, language=op.language
                )
                reply = notifications.reminder(
                    ticket=need.ticket, category=category, comune=comune, since=need.created_at, hours=sched.reminder_hours
                )
                await enqueue(session, core.translator, to=Recipient.of_operator(op), reply=reply, now=now)
            done += 1
        for need in await followups.due(
            session, kind=FollowUpKind.ESCALATION, before=now - escalate_after, limit=sched.batch_size
        ):
            if not await followups.record(session, need_id=need.id, kind=FollowUpKind.ESCALATION, now=now):
                continue
            category, comune = await reference.labels(
                session, category_slug=need.category_slug, comune_istat=need.comune_istat, language=core.settings.app.language
            )
            hours = sched.reminder_hours + sched.escalation_hours
            reply = notifications.escalation(ticket=need.ticket, category=category, comune=comune, since=need.created_at, hours=hours)
            await core.notifier.tell_admins(session, reply, now)
            await audit.record(session, actor="system", action=AuditAction.NEED_ESCALATED, need_id=need.id, at=now)
            done += 1
    return done


async def apply_retention(core: Services, now: datetime) -> int:
    """Anonymise needs closed longer than `privacy.retention_days` (the period the privacy notice promises)."""
    before = now - timedelta(days=core.settings.privacy.retention_days)
    async with transaction(core.sessions) as session:
        count = await followups.anonymise(session, closed_before=before, now=now)
        if count:
            await audit.record(session, actor="system", action=AuditAction.NEEDS_ANONYMISED, detail=str(count), at=now)
    if count:
        logger.info("anonymised %s need(s)", count)
    # Their downloaded media go too; the sweep also catches copies an interrupted erasure left.
    await media.sweep(core.sessions, core.settings.whatsapp.media_dir)
    return count
