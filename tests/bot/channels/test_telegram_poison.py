"""Telegram and a turn that raises (issue 13): the update is stored as failed, confirmed, answered once; the queue moves on.

Before, a turn that raised was never confirmed: polling asked Telegram for the same update five
times (an OSError: for ever, since any OSError counted as a database outage) and nobody else was
answered meanwhile; the citizen heard nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram_polling import PollPolicy, Poller
from bot.core import Core
from bot.dispatcher import Dispatcher
from bot.send import RetryPolicy
from handlers.telegram import TelegramSender
from storage import outbox
from storage.db import transaction
from storage.models import DeadLetter, InboundEvent, OutboxMessage, OutboxStatus
from tests.bot.channels.test_telegram import CHAT, SCALED, count, running_telegram
from tests.bot.test_poison import Exploding
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers.clock import FakeClock

APOLOGY = "Qualcosa è andato storto: riprova tra poco."
OTHER = 777


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood=SCALED) as running:
        yield running


def counting(tg: Any) -> list[str]:
    """Every time the pipeline is handed a "boom" update."""
    seen: list[str] = []
    handle = tg.core.pipeline.handle

    async def handle_counting(event: Any) -> Any:
        if event.text and "boom" in event.text:
            seen.append(event.external_id)
        return await handle(event)

    tg.core.pipeline.handle = handle_counting
    return seen


@pytest.mark.parametrize("error", [KeyError, PermissionError], ids=["bug", "oserror"])
async def test_polling_confirms_a_turn_that_raised_and_answers_it_once(db_url: str, fake: FakeTelegram, error: type[Exception]) -> None:
    async with running_telegram(db_url, fake) as tg:
        tg.core.pipeline.engine = Exploding(tg.core.pipeline.engine, error)
        seen = counting(tg)
        poison = fake.push_message(CHAT, "boom")
        await asyncio.wait_for(tg.say("ciao", chat=OTHER), 10)  # not stuck behind it
        await tg.settled()
        assert seen == [str(poison)]  # handed over once: stored as failed, confirmed, never retried
        assert tg.texts(CHAT) == [APOLOGY]
        assert tg.texts(OTHER)[0].startswith("Ciao! Sono Ascolto")
        assert await count(tg.core, DeadLetter) == 1 and await count(tg.core, InboundEvent) == 2
        await tg.say("ciao")  # the citizen tries again: answered as usual
        assert tg.texts(CHAT)[1].startswith("Ciao! Sono Ascolto")
    assert fake.pending_updates == []


async def test_a_button_press_whose_turn_raised_keeps_its_keyboard(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await tg.say("ciao")

        class ExplodingOnPress(Exploding):
            def step(self, state: Any, inbound: Any, ctx: Any, call: Any = None) -> Any:
                if inbound.choice is not None:
                    raise KeyError("press")
                return self.engine.step(state, inbound, ctx, call)

        tg.core.pipeline.engine = ExplodingOnPress(tg.core.pipeline.engine)
        await tg.tap(tg.t("menu.new"))
        assert tg.texts()[-1] == APOLOGY
        assert fake.edits == []  # "✓ <label>" would claim the choice was taken
        assert len(fake.callback_answers) == 1  # the spinner stopped all the same


async def test_webhook_answers_200_for_a_turn_that_raised_and_apologises_once(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake, webhook=True) as tg:
        tg.core.pipeline.engine = Exploding(tg.core.pipeline.engine)
        poison = fake.push_message(CHAT, "boom")
        update = dict(fake.pending_updates[0])
        assert await fake.deliver_webhook(poison) == 200
        assert await fake.deliver_webhook(update) == 200  # Telegram delivers it again: a duplicate
        await tg.settled()
        assert tg.texts() == [APOLOGY]
        assert await count(tg.core, DeadLetter) == 1


class Recorded(Poller):
    """The poller, with the failure counts its waits were computed from."""

    waits: list[int]

    async def _wait_after(self, exc: BaseException, failures: int, stop: asyncio.Event) -> None:
        self.waits.append(failures)
        await super()._wait_after(exc, failures, stop)


async def run_poller(fake: FakeTelegram, process: Any, policy: PollPolicy, until: Any) -> Recorded:
    bot = Bot(fake.token, base_url=fake.base_url)
    poller = Recorded(bot, process, policy, rng=random.Random(1))
    poller.waits = []
    stop = asyncio.Event()
    async with bot:
        task = asyncio.create_task(poller.run(stop))
        try:
            await fake.wait_for(until, timeout=10)
        finally:
            stop.set()
            await task
    return poller


async def test_polling_skips_an_update_that_raises_an_oserror_after_a_few_tries(fake: FakeTelegram) -> None:
    """An OSError around a turn (not the database's) counted as an outage: the same update, for ever."""
    tries: list[int] = []
    done: list[int] = []

    async def process(update: Update) -> None:
        if update.message is not None and update.message.text == "boom":
            tries.append(update.update_id)
            raise PermissionError("var/exports")
        done.append(update.update_id)

    fake.push_message(CHAT, "boom")
    after = fake.push_message(OTHER, "ciao")
    policy = PollPolicy(timeout=1, backoff_base=0.01, backoff_max=0.05)
    poller = await run_poller(fake, process, policy, lambda: after in done)
    assert len(tries) == policy.max_update_attempts
    # Each failure of the same update waits longer: the count no longer restarts with every getUpdates.
    assert poller.waits == list(range(1, policy.max_update_attempts))


async def test_a_database_outage_is_still_waited_out_without_skipping(fake: FakeTelegram) -> None:
    from sqlalchemy.exc import OperationalError

    tries: list[int] = []

    async def process(update: Update) -> None:
        tries.append(update.update_id)
        if len(tries) <= 8:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("down"))

    update_id = fake.push_message(CHAT, "ciao")
    policy = PollPolicy(timeout=1, backoff_base=0.001, backoff_max=0.002)
    await run_poller(fake, process, policy, lambda: len(tries) == 9 and not fake.pending_updates)
    assert tries == [update_id] * 9  # more than max_update_attempts: never skipped


async def test_a_429_from_telegram_that_never_ends_fails_the_row(core: Core, clock: FakeClock, fake: FakeTelegram) -> None:
    """The real sender against the fake: retry_after is honoured, summed, and bounded (issue 13)."""
    async with transaction(core.sessions) as session:
        row = await outbox.enqueue(session, channel="telegram", recipient=str(CHAT), citizen_id=None, text="Ciao", now=clock.now)
    fake.fail_next("sendMessage", 429, retry_after=7, count=100)
    policy = RetryPolicy(max_throttled_seconds=20)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        dispatcher = Dispatcher(core.sessions, {"telegram": TelegramSender(bot)}, policy=policy, clock=clock)
        for _ in range(6):
            await dispatcher.run_once()
            clock.advance(seconds=8)
    async with core.sessions() as session:
        stored = await session.get(OutboxMessage, row.id)
    assert stored is not None and stored.status == OutboxStatus.FAILED and stored.throttled_seconds == 14
    assert len([c for c in fake.requests if c.method == "sendMessage"]) == 3
