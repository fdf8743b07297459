"""Sent marks that ride a turn's commit (issue 18): on SQLite a turn about to commit carries the marks
waiting for the dispatcher's group commit, so two commits (two fsyncs) become one; a turn that rolls
back gives them back, and the dispatcher never stops with marks out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot import dispatcher as dispatcher_module
from bot.core import Core
from storage import outbox
from tests.bot.test_dispatcher import ScriptedSender, citizen_says, make, rows, running, until
from tests.helpers.clock import FakeClock

LINGER = 1.0
"""How long the committer waits for more marks here: long enough for the next turn to come first."""


@pytest.fixture(autouse=True)
def slow_committer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "MARK_LINGER_SECONDS", LINGER)


async def statuses(core: Core, recipient: str) -> list[str]:
    return [r.status for r in await rows(core) if r.recipient == recipient]


async def test_the_next_turn_commits_the_marks_waiting_for_the_committer(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    async with running(d):
        state = d.state
        assert state is not None
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await until(lambda: len(state.marks) == 2, "anna's welcome sent, its marks waiting")
        assert await statuses(core, "anna") == ["pending", "pending"]

        await core.pipeline.handle(citizen_says(clock, 1, "ciao", sender="bruno"))
        if core.db.dialect.name == "sqlite":
            assert await statuses(core, "anna") == ["sent", "sent"], "bruno's turn did not commit anna's marks"
            assert ("test", "anna") not in state.unsettled, "anna's chat still waits for its marks"
        else:  # PostgreSQL has many writers: a turn never holds other rows' locks for the dispatcher
            assert await statuses(core, "anna") == ["pending", "pending"]
        assert state.riding == 0
        await until(lambda: len(sender.sent) == 4, "bruno's welcome sent")
    assert [r.status for r in await rows(core)] == ["sent"] * 4
    assert [r.provider_message_id for r in await rows(core)] == ["p1", "p2", "p3", "p4"]


async def test_a_turn_that_rolls_back_gives_the_marks_back_in_order(
    core: Core, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    mark_many_sent = outbox.mark_many_sent
    failures = [RuntimeError("the turn breaks after writing the marks")]

    async def breaks(*args: Any, **kwargs: Any) -> None:
        await mark_many_sent(*args, **kwargs)
        if failures:
            raise failures.pop()

    monkeypatch.setattr(outbox, "mark_many_sent", breaks)
    async with running(d):
        state = d.state
        assert state is not None
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await until(lambda: len(state.marks) == 2, "anna's marks waiting")
        waiting = list(state.marks)
        handled = await core.pipeline.handle(citizen_says(clock, 1, "ciao", sender="bruno"))
        if core.db.dialect.name == "sqlite":
            assert handled.failed and not failures, "the turn did not carry the marks"
        assert state.marks[:2] == waiting and state.riding == 0
        assert await statuses(core, "anna") == ["pending", "pending"], "marks of a rolled-back turn were kept"
        await until(lambda: not state.unsettled, "the committer committed them")
    assert await statuses(core, "anna") == ["sent", "sent"]


async def test_the_dispatcher_does_not_stop_while_a_turn_holds_marks(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop))
    await until(lambda: d.state is not None, "the dispatcher running")
    state = d.state
    assert state is not None
    await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
    await until(lambda: len(state.marks) == 2, "anna's marks waiting")
    ride = d.ride()  # a turn took them, and has not committed yet
    assert ride is not None and state.marks == []
    stop.set()
    await asyncio.sleep(LINGER + 0.5)
    assert not task.done(), "the committer ended with marks out"
    assert d.ride() is None, "a ride was handed out while closing"
    ride.cancel()  # the turn rolled back: the committer commits them on its way out
    await asyncio.wait_for(task, timeout=30)
    assert await statuses(core, "anna") == ["sent", "sent"]
