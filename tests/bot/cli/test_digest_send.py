"""`ascolto digest COOP --send --at`: a back-dated send picks the period, never the time the rows are due; `coops list` in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.cli.coops import digest_command
from bot.core import Core
from storage import outbox
from storage.db import transaction
from storage.models import DigestRun, OutboxMessage
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator


async def _rows(core: Core) -> list[OutboxMessage]:
    async with core.sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_a_send_at_a_future_time_is_refused_and_queues_nothing(
    core: Core, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    later = (clock.now + timedelta(days=2)).isoformat()
    assert await digest_command(core, slug="cantiere", mode="send", at=later) == 1
    assert "future" in capsys.readouterr().err
    assert await _rows(core) == []


async def test_a_back_dated_send_is_due_now_and_holds_no_newer_reply(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    assert await digest_command(core, slug="cantiere", mode="send", at="2026-11-10T09:00") == 0
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="lucia", citizen_id=None, text="risposta", now=clock.now)
    digest, reply = await _rows(core)
    assert digest.next_attempt_at == digest.created_at == clock.now
    async with core.sessions() as session:
        [run] = (await session.execute(select(DigestRun))).scalars().all()
    assert run.period_end == datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # the Monday before the 10th, 8:00 in Rome
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=timedelta(seconds=60))
    assert [r.id for r in claimed] == [digest.id, reply.id]


async def test_coops_list_says_each_schedule_in_words(core: Core, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.coops import list_coops

    await add_coop(core, "cantiere", comuni=(RAVENNA,), cron="30 7 1 * *")
    assert await list_coops(core) == 0
    assert "(il primo del mese alle 7:30)" in capsys.readouterr().out
