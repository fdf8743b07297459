"""Outbox claims: leases, ordering per chat, and aware timestamps on both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect

from bot.core import Core
from storage import outbox
from storage.models import Broadcast, OutboxMessage, OutboxStatus
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


async def _broadcast(core: Core, clock: FakeClock, recipients: list[str]) -> None:
    """Queue an announcement to `recipients` the way `/annuncio` does: one row each, `broadcast_id` set."""
    async with transaction(core.sessions) as session:
        announcement = Broadcast(requested_channel="test", requested_by="admin", recipients=len(recipients), created_at=clock.now)
        session.add(announcement)
        await session.flush()
        await outbox.enqueue_many(
            session,
            [
                {**outbox.row(channel="test", recipient=r, citizen_id=None, text=f"annuncio {r}", now=clock.now), "broadcast_id": announcement.id}
                for r in recipients
            ],
        )


async def test_a_reply_queued_behind_a_broadcast_is_claimed_in_the_next_batch(core: Core, clock: FakeClock) -> None:
    await _broadcast(core, clock, [f"b{i}" for i in range(200)])
    async with transaction(core.sessions) as session:
        first = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="carla", citizen_id=None, text="risposta", now=clock.now)
        await outbox.enqueue(session, channel="test", recipient="admin", citizen_id=None, text="in partenza", now=clock.now)
    async with transaction(core.sessions) as session:
        second = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.recipient for r in first] == [f"b{i}" for i in range(10)]
    assert [r.text for r in second[:2]] == ["risposta", "in partenza"], "interactive rows first"
    assert [r.recipient for r in second[2:]] == [f"b{i}" for i in range(10, 18)], "then the broadcast, oldest first"


async def test_a_recipient_who_writes_gets_their_announcement_then_the_reply_ahead_of_the_others(
    core: Core, clock: FakeClock
) -> None:
    """Within a chat rows keep id order: the reply never overtakes the announcement queued before it,
    but the chat's announcement is promoted with the reply, so the citizen does not wait for the broadcast."""
    await _broadcast(core, clock, [f"b{i}" for i in range(200)])
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="b150", citizen_id=None, text="risposta", now=clock.now)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=5, lease=LEASE)
    assert [r.text for r in claimed] == ["annuncio b150", "risposta", "annuncio b0", "annuncio b1", "annuncio b2"]


async def test_a_reply_waits_while_its_chats_announcement_is_in_flight(core: Core, clock: FakeClock) -> None:
    await _broadcast(core, clock, ["anna", "bruno"])
    async with transaction(core.sessions) as session:
        first = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=1, lease=LEASE)
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="risposta", now=clock.now)
    async with transaction(core.sessions) as session:
        second = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.text for r in first] == ["annuncio anna"]
    assert [r.text for r in second] == ["annuncio bruno"], "anna's reply waits for her announcement to be sent"
    async with transaction(core.sessions) as session:
        assert first[0].id is not None
        await outbox.mark_sent(session, message_id=first[0].id, provider_message_id=None, now=clock.now)
    async with transaction(core.sessions) as session:
        third = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.text for r in third] == ["risposta"]


async def test_one_chats_backlog_does_not_hide_another_chats_reply(core: Core, clock: FakeClock) -> None:
    """Issue 13: 1,000 pending rows of one chat came before another citizen's reply, and the claim only
    looked at the oldest `limit × 4`: the reply waited until the flood was sent. Every chat's head is claimed."""
    async with transaction(core.sessions) as session:
        await outbox.enqueue_many(
            session, [outbox.row(channel="test", recipient="flood", citizen_id=None, text=f"f{i}", now=clock.now) for i in range(1200)]
        )
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="carla", citizen_id=None, text="risposta", now=clock.now)
    async with transaction(core.sessions) as session:
        first = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=50, lease=LEASE)
    assert "risposta" in [r.text for r in first], "the other citizen's reply is in the first claim"
    flood = [r.text for r in first if r.recipient == "flood"]
    assert flood == [f"f{i}" for i in range(len(flood))], "the flooding chat keeps its order"
    assert len(flood) <= outbox.PER_CHAT, "and takes no more than its share of the batch"
    # While the flood's rows are in flight, a reply to a third citizen still goes in the next claim.
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="dario", citizen_id=None, text="ciao dario", now=clock.now)
    async with transaction(core.sessions) as session:
        second = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=50, lease=LEASE)
    assert [r.text for r in second] == ["ciao dario"], "the flood's next rows wait for the ones in flight"


async def test_a_batch_serves_the_head_of_every_chat_before_anyone_s_second_row(core: Core, clock: FakeClock) -> None:
    """Round robin: each chat's oldest row, then each chat's second one, and so on, chats in the order they started waiting."""
    async with transaction(core.sessions) as session:
        rows = [outbox.row(channel="test", recipient="flood", citizen_id=None, text=f"f{i}", now=clock.now) for i in range(30)]
        rows += [outbox.row(channel="test", recipient=f"c{i}", citizen_id=None, text=f"c{i}-{n}", now=clock.now) for i in range(5) for n in (1, 2)]
        await outbox.enqueue_many(session, rows)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=8, lease=LEASE)
    assert [r.text for r in claimed] == ["f0", "c0-1", "c1-1", "c2-1", "c3-1", "c4-1", "f1", "c0-2"]


async def test_a_row_written_for_later_does_not_hold_newer_rows_to_the_same_chat(core: Core, clock: FakeClock) -> None:
    """Issue 15: a digest queued `--at` a future time held every later reply to its operators until then."""
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="later", now=clock.now + timedelta(days=3))
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="1", now=clock.now)
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="2", now=clock.now)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.text for r in claimed] == ["1", "2"]
    clock.advance(days=3)
    async with transaction(core.sessions) as session:
        for row in claimed:
            await outbox.mark_sent(session, message_id=row.id or 0, provider_message_id=None, now=clock.now)
    async with transaction(core.sessions) as session:
        due = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert [r.text for r in due] == ["later"]


async def test_a_row_backing_off_still_holds_newer_rows_to_the_same_chat(core: Core, clock: FakeClock) -> None:
    """Only a row written for later steps aside: one that failed and waits to be retried keeps its place."""
    async with transaction(core.sessions) as session:
        first = await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="1", now=clock.now)
    async with transaction(core.sessions) as session:
        await outbox.retry_at(session, message_id=first.id or 0, at=clock.now + timedelta(minutes=5), error="timeout")
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="2", now=clock.now)
    async with transaction(core.sessions) as session:
        claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    assert claimed == []


async def test_a_handed_over_row_is_the_row_a_claim_reads_back(core: Core, clock: FakeClock) -> None:
    """`as_claimed` builds the dispatcher's row without SQLModel's constructor: every column must be what
    the database holds, the defaults the INSERT gave included (a missing one would read as None)."""
    values = outbox.row(
        channel="test", recipient="anna", citizen_id=None, text="Ciao", options=[("si", "Sì")], now=clock.now, conversation_version=3
    )
    until = clock.now + LEASE
    async with transaction(core.sessions) as session:
        [row_id] = await outbox.enqueue_leased(session, [values], until=until)
    handed = outbox.as_claimed({**values, "id": row_id, "next_attempt_at": until})
    clock.advance(seconds=61)
    async with transaction(core.sessions) as session:
        [claimed] = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=LEASE)
    columns = [name for name in OutboxMessage.model_fields if name != "next_attempt_at"]  # the claim leased it anew
    assert {name: getattr(handed, name) for name in columns} == {name: getattr(claimed, name) for name in columns}
    assert handed.next_attempt_at == until and handed.options == [{"payload": "si", "label": "Sì"}]
    assert handed.attempts == 0 and handed.status == OutboxStatus.PENDING and handed.sent_at is None
    assert inspect(handed).transient
