"""Several dispatchers on one PostgreSQL: each outbox row is sent once, and a chat's replies never overtake each other."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dispatcher import Dispatcher
from bot.clock import utc_now
from handlers import Outgoing
from storage import outbox
from storage.db import create_engine, session_factory, transaction
from tests.conftest import _admin_truncate

pytestmark = pytest.mark.postgres

CHATS = 40
PER_CHAT = 6
WORKERS = 3


class RecordingSender:
    """A provider that takes a little while per message and remembers the order it saw."""

    channel = "test"

    def __init__(self, log: list[tuple[str, int, str]], worker: str, rng: random.Random) -> None:
        self.log, self.worker, self.rng = log, worker, rng

    async def send(self, message: Outgoing) -> str | None:
        await asyncio.sleep(self.rng.uniform(0, 0.003))
        self.log.append((message.recipient, message.outbox_id, self.worker))
        return f"{self.worker}-{message.outbox_id}"


@pytest.fixture
async def engines(postgres_database: str) -> AsyncIterator[list[AsyncEngine]]:
    """One engine (own connection pool) per simulated worker: what separate processes would have."""
    await _admin_truncate(postgres_database)
    built = [create_engine(postgres_database) for _ in range(WORKERS + 1)]
    try:
        yield built
    finally:
        for engine in built:
            await engine.dispose()


async def enqueue(engine: AsyncEngine, chat: int, text: str) -> None:
    async with transaction(session_factory(engine)) as session:
        await outbox.enqueue(session, channel="test", recipient=f"c{chat}", citizen_id=None, text=text, now=utc_now())


async def test_concurrent_workers_send_each_row_once_in_chat_order(engines: list[AsyncEngine]) -> None:
    writer, *workers = engines
    log: list[tuple[str, int, str]] = []
    for chat in range(CHATS):
        await enqueue(writer, chat, "0")
    dispatchers = [
        Dispatcher(
            session_factory(engine),
            {"test": RecordingSender(log, f"w{i}", random.Random(i))},
            batch_size=10,
            lease=timedelta(seconds=30),
            idle_poll=0.01,
        )
        for i, engine in enumerate(workers)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(d.run_forever(stop)) for d in dispatchers]
    # New replies keep arriving while the workers claim: the race that can reorder a chat.
    for n in range(1, PER_CHAT):
        await asyncio.gather(*(enqueue(writer, chat, str(n)) for chat in range(CHATS)))
        for d in dispatchers:
            d.wake()
    for _ in range(1200):  # generous: a loaded CI box; the loop ends as soon as all are sent
        if len(log) >= CHATS * PER_CHAT:
            break
        await asyncio.sleep(0.025)
    stop.set()
    await asyncio.gather(*running)
    ids = [outbox_id for _, outbox_id, _ in log]
    assert len(ids) == CHATS * PER_CHAT and len(set(ids)) == len(ids), "a row was sent twice or never"
    by_chat: dict[str, list[int]] = defaultdict(list)
    for chat, outbox_id, _ in log:
        by_chat[chat].append(outbox_id)
    overtaken = [chat for chat, sent in by_chat.items() if sent != sorted(sent)]
    assert overtaken == [], f"{len(overtaken)} of {CHATS} chats got replies out of order"
    assert len({worker for *_, worker in log}) > 1, "only one worker did the work: the test proved nothing"


async def test_a_reply_committed_during_a_claim_waits_behind_its_chat(engines: list[AsyncEngine]) -> None:
    """Worker A's claim locks the rows it saw; a row committed after A's scan is not locked, and
    SKIP LOCKED hides A's rows from worker B: without a check B would send the newer row first."""
    writer, a, b, _ = engines
    await enqueue(writer, 1, "first")
    now = utc_now()
    async with transaction(session_factory(a)) as session_a:
        claimed_a = await outbox.claim_batch(session_a, channels=["test"], now=now, limit=10, lease=timedelta(seconds=30))
        assert [r.text for r in claimed_a] == ["first"]
        await enqueue(writer, 1, "second")
        later = utc_now() + timedelta(seconds=1)
        async with transaction(session_factory(b)) as session_b:
            claimed_b = await outbox.claim_batch(session_b, channels=["test"], now=later, limit=10, lease=timedelta(seconds=30))
        assert claimed_b == []
