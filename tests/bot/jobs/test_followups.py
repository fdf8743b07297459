"""Follow-up jobs with controlled time: "still needed?", "how did it go?", reminders and escalations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core import Core
from bot.jobs.followups import ask_satisfaction, remind_unclaimed, send_follow_ups
from bot.notify import Admins, Recipient
from storage import conversations
from storage.models import FollowUp, Need
from tests.bot.jobs.test_digest import texts_to
from tests.helpers.clock import START, FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need, add_operator, say


async def test_follow_up_is_asked_after_n_days_once_and_the_answer_closes_the_need(core: Core, clock: FakeClock) -> None:
    need = await add_need(core, at=START, citizen="anna")
    assert await send_follow_ups(core, START + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert await send_follow_ups(core, START + timedelta(days=7)) == 1
    assert await send_follow_ups(core, START + timedelta(days=8)) == 0
    [question] = await texts_to(core, "anna")
    assert f"(richiesta {need.ticket}). La richiesta è ancora attuale?" in question
    clock.now = START + timedelta(days=7, hours=1)
    await core.pipeline.handle(say(core, "anna", "2"))
    assert "Chiudiamo la richiesta" in (await texts_to(core, "anna"))[-1]
    async with core.sessions() as session:
        row = await session.get(Need, need.id)
        answered = (await session.execute(select(FollowUp.answer))).scalar_one()
    assert row is not None and (row.status, row.follow_up_answer, answered) == ("chiusa", "no", "no")


async def test_follow_up_waits_while_the_citizen_is_in_another_conversation(core: Core, clock: FakeClock) -> None:
    await add_need(core, at=START, citizen="anna")
    clock.now = START + timedelta(days=7)
    await core.pipeline.handle(say(core, "anna", "/nuovo"))  # in the middle of a new report
    assert await send_follow_ups(core, clock.now) == 0
    assert await send_follow_ups(core, clock.now + timedelta(days=2)) == 1  # the half-done report expired


async def test_satisfaction_is_asked_after_resolution_and_recorded(core: Core, clock: FakeClock) -> None:
    need = await add_need(core, at=START, citizen="anna", status="risolta", resolved_after=timedelta(hours=2))
    assert await ask_satisfaction(core, START + timedelta(hours=25)) == 0
    assert await ask_satisfaction(core, START + timedelta(hours=26)) == 1
    clock.now = START + timedelta(hours=27)
    await core.pipeline.handle(say(core, "anna", "5"))
    await core.pipeline.handle(say(core, "anna", "Gentilissimi"))
    async with core.sessions() as session:
        row = await session.get(Need, need.id)
        state = await conversations.load(session, citizen_id=row.citizen_id or 0) if row else None
    assert row is not None and (row.satisfaction, row.satisfaction_comment) == (5, "Gentilissimi")
    assert state is not None and not state.is_active


async def test_urgent_unclaimed_need_is_reminded_then_escalated(core: Core) -> None:
    core.notifier.admins = Admins((Recipient("test", "admin"),))
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    need = await add_need(core, cooperative_ids=(coop,), urgency="alta", at=START)
    await add_need(core, cooperative_ids=(coop,), urgency="media", at=START)  # not urgent: never reminded
    assert await remind_unclaimed(core, START + timedelta(hours=3, minutes=59)) == 0
    assert await remind_unclaimed(core, START + timedelta(hours=4)) == 1
    assert await remind_unclaimed(core, START + timedelta(hours=11)) == 0
    assert await remind_unclaimed(core, START + timedelta(hours=12)) == 1
    assert await remind_unclaimed(core, START + timedelta(days=3)) == 0
    [reminder] = await texts_to(core, "lucia")
    [escalation] = await texts_to(core, "admin")
    assert f"Promemoria: la richiesta urgente {need.ticket}" in reminder
    assert f"nessuno ha preso in carico la richiesta urgente {need.ticket}" in escalation


async def test_claimed_need_is_not_reminded(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    await add_need(core, cooperative_ids=(coop,), urgency="alta", at=START, status="presa_in_carico", claimed_by=coop)
    assert await remind_unclaimed(core, START + timedelta(days=1)) == 0
