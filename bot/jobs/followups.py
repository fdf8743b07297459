"""Follow-up jobs: "still needed?" and "how did it go?" to citizens, reminders and escalations of unclaimed urgent needs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Services
from bot.notify import Recipient, enqueue
from conversations import Context, FollowUpKind, notifications
from conversations.flows import followup, menu
from storage import audit, citizens, conversations, followups, operators, reference, routing
from storage.audit import AuditAction
from storage.db import transaction

logger = logging.getLogger(__name__)


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
