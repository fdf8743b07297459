"""Outbox claims: leases, ordering per chat, and aware timestamps on both backends."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Core
from storage import outbox
from storage.db import transaction
from tests.helpers.clock import FakeClock

LEASE = timedelta(seconds=60)


async def test_claimed_rows_are_not_claimed_again_until_the_lease_ends(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        for text in ("a", "b"):
            await outbox.enqueue(session, channel="test", recipient=text, citizen_id=None, text=text, now=clock.now)
    async with transaction(core.sessions) as session:
        first = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    async with transaction(core.sessions) as session:
        second = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.text for r in first] == ["a", "b"] and second == []
    clock.advance(seconds=61)
    async with transaction(core.sessions) as session:
        third = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert len(third) == 2
    assert third[0].next_attempt_at.tzinfo is not None


async def test_a_chat_with_a_row_in_flight_gets_nothing_newer(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="1", now=clock.now)
    async with transaction(core.sessions) as session:
        [first] = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="2", now=clock.now)
        await outbox.enqueue(session, channel="test", recipient="bruno", citizen_id=None, text="3", now=clock.now)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert first.text == "1" and [r.text for r in claimed] == ["3"]


async def test_other_channels_rows_are_left_alone(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="telegram", recipient="1", citizen_id=None, text="x", now=clock.now)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["whatsapp"], now=clock.now, limit=10, lease=LEASE)
    assert claimed == []
