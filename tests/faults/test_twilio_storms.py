"""Twilio answering a storm of 429s and 5xx, and a short outage: nothing lost or doubled, chat order
kept, the 429 back-off honoured, and every failure costing exactly one more request (no retry storm)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from bot.app import build_core
from bot.core import Core
from bot.channels.whatsapp import build
from bot.config import DispatcherSettings
from bot.clock import utc_now
from handlers.whatsapp import THROTTLE_RETRY_SECONDS
from storage import outbox
from storage.db import transaction
from storage.models import Citizen, OutboxMessage, OutboxStatus
from tests.conftest import make_settings, whatsapp_settings
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

CITIZENS = 12
PER_CITIZEN = 3
THROTTLED = 6
SERVER_ERRORS = 8


@dataclass(frozen=True)
class Attempt:
    at: float
    to: str
    status: int


class RecordingTwilio(FakeTwilio):
    """FakeTwilio that logs every create request it answers: when, to whom, with what status."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.attempts: list[Attempt] = []

    async def _try_create(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))  # Starlette caches the body: the fake reads it again
        to = form.get("To", "")
        response = await super()._try_create(request)
        self.attempts.append(Attempt(time.monotonic(), to, response.status_code))
        return response


def number(index: int) -> str:
    return f"+39347{index:07d}"


@contextlib.asynccontextmanager
async def sending(db_url: str, fake: FakeTwilio, *, max_attempts: int = 8) -> AsyncIterator[Core]:
    settings = make_settings(
        db_url,
        whatsapp=whatsapp_settings(fake, "http://127.0.0.1:9", messages_per_second=400),  # no status callbacks here (auto_statuses=())
        dispatcher=DispatcherSettings(
            max_attempts=max_attempts, backoff_base_seconds=0.05, backoff_max_seconds=0.5, idle_poll_seconds=0.05
        ),
    )
    core = await build_core(settings)
    channel = await build(core)
    now = utc_now()
    async with transaction(core.sessions) as session:
        citizens = [
            Citizen(channel="whatsapp", external_id=number(i), consent_version=1, consent_at=now, last_inbound_at=now, created_at=now)
            for i in range(CITIZENS)
        ]
        session.add_all(citizens)
        await session.flush()
        for n in range(PER_CITIZEN):
            for i, citizen in enumerate(citizens):
                await outbox.enqueue(session, channel="whatsapp", recipient=number(i), citizen_id=citizen.id, text=f"{i}:{n}", now=now)
    dispatcher = core.dispatcher({"whatsapp": channel.sender})
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        yield core
    finally:
        stop.set()
        await task
        if channel.shutdown is not None:
            await channel.shutdown()
        await core.close()


async def not_sent(core: Core) -> int:
    async with core.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT))
            or 0
        )


def assert_each_sent_once_in_order(fake: FakeTwilio) -> None:
    for i in range(CITIZENS):
        assert [m["body"] for m in fake.messages_to(number(i))] == [f"{i}:{n}" for n in range(PER_CITIZEN)], "lost, doubled or reordered"
    assert len(fake.messages) == CITIZENS * PER_CITIZEN


async def test_429_and_5xx_storm_loses_nothing_and_honours_the_back_off(db_url: str) -> None:
    async with RecordingTwilio(rate=None) as fake:
        fake.fail_next(429, 20429, "Too Many Requests", count=THROTTLED)
        fake.fail_next(503, 20500, "Service Unavailable", count=SERVER_ERRORS)
        async with sending(db_url, fake) as core:
            await fake.wait_for(lambda: len(fake.messages) >= CITIZENS * PER_CITIZEN, timeout=60)
            await asyncio.sleep(0.3)  # anything extra would show up now
            pending = await not_sent(core)
    assert pending == 0
    assert_each_sent_once_in_order(fake)
    # No retry storm: every failure cost exactly one more request.
    assert len(fake.attempts) == CITIZENS * PER_CITIZEN + THROTTLED + SERVER_ERRORS
    assert fake.stats.scripted == THROTTLED + SERVER_ERRORS
    by_number: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in fake.attempts:
        by_number[attempt.to].append(attempt)
    for attempt in fake.attempts:
        if attempt.status == 429:
            later = [a.at for a in by_number[attempt.to] if a.at > attempt.at]
            # Twilio sends no Retry-After: we wait THROTTLE_RETRY_SECONDS (0.05 s of slack for clock reads).
            assert later and later[0] - attempt.at >= THROTTLE_RETRY_SECONDS - 0.05, "asked again before the back-off"


async def test_an_outage_of_5xx_is_ridden_out_with_bounded_attempts(db_url: str) -> None:
    """Every create fails for a while: each row is tried a bounded number of times, then all go once it recovers."""
    max_attempts = 30
    async with RecordingTwilio(rate=None) as fake:
        fake.fail_next(500, 20500, "Internal Server Error", count=10_000)  # down until the test clears it
        async with sending(db_url, fake, max_attempts=max_attempts) as core:
            await fake.wait_for(lambda: fake.stats.scripted >= 3 * CITIZENS, timeout=30)  # every chat retried a few times
            await asyncio.sleep(1.0)
            during = len(fake.attempts)
            fake._failures.clear()  # Twilio is back
            await fake.wait_for(lambda: len(fake.messages) >= CITIZENS * PER_CITIZEN, timeout=60)
            await asyncio.sleep(0.3)
            pending = await not_sent(core)
            async with core.sessions() as session:
                attempts = list((await session.execute(select(OutboxMessage.attempts))).scalars())
    assert pending == 0
    assert_each_sent_once_in_order(fake)
    # Only a chat's oldest row is ever tried while it fails (order), each at most max_attempts times,
    # with exponential back-off: far fewer requests than a tight retry loop would make.
    failed_numbers = {a.to for a in fake.attempts if a.status >= 500}
    assert len(failed_numbers) == CITIZENS
    assert max(attempts) < max_attempts
    assert during <= CITIZENS * max_attempts
    for to in failed_numbers:
        tries = [a for a in fake.attempts if a.to == to and a.status >= 500]
        assert len(tries) < max_attempts, "no back-off"
