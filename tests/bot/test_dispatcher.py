"""The dispatcher's retry policy, decided by error class, and per-chat ordering."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.dispatcher import Dispatcher
from bot.send import RetryPolicy
from handlers import Outgoing, Rejected, SendError, Throttled, Transient, Unreachable
from storage import needs, outbox
from storage.delivery import Contact
from storage.db import transaction
from storage.stats import system_status
from conversations import Inbound
from storage.models import Broadcast, Citizen, OutboxMessage
from tests.helpers.clock import FakeClock


class ScriptedSender:
    """Answers each send with the next scripted outcome (an exception, or success)."""

    channel = "test"

    def __init__(self, *outcomes: SendError | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Outgoing] = []
        self.calls = 0

    async def send(self, message: Outgoing) -> str | None:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(message)
        return f"p{len(self.sent)}"


async def enqueue(core: Core, clock: FakeClock, *texts: str, recipient: str = "anna", citizen_id: int | None = None) -> None:
    async with transaction(core.sessions) as session:
        for text in texts:
            await outbox.enqueue(
                session, channel="test", recipient=recipient, citizen_id=citizen_id, text=text, now=clock.now
            )


async def rows(core: Core) -> list[OutboxMessage]:
    async with core.sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all())


def make(core: Core, sender: ScriptedSender, clock: FakeClock, **kw: object) -> Dispatcher:
    return Dispatcher(core.sessions, {"test": sender}, clock=clock, rng=random.Random(1), **kw)  # type: ignore[arg-type]


async def test_retry_after_is_honoured_exactly_and_is_not_a_failed_attempt(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender(Throttled(retry_after=7))
    await enqueue(core, clock, "uno")
    d = make(core, sender, clock)
    await d.flush()
    [row] = await rows(core)
    assert row.status == "pending" and row.attempts == 0
    assert (row.next_attempt_at - clock.now).total_seconds() == 7
    clock.advance(seconds=6.9)
    assert await d.flush() == 0
    clock.advance(seconds=0.1)
    assert await d.flush() == 1
    assert [m.text for m in sender.sent] == ["uno"]


async def test_transient_errors_back_off_then_fail_for_good_and_stay_visible(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender(*[Transient("HTTP 502")] * 10)
    await enqueue(core, clock, "uno")
    d = make(core, sender, clock, policy=RetryPolicy(max_attempts=3, base=1, cap=10))
    for _ in range(10):
        await d.flush()
        clock.advance(seconds=11)
    [row] = await rows(core)
    assert sender.calls == 3
    assert row.status == "failed" and row.attempts == 3 and "502" in (row.last_error or "")


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base=1, cap=30)
    rng = random.Random(3)
    maxima = [max(policy.delay(n, rng) for _ in range(200)) for n in range(1, 9)]
    assert maxima[0] <= 1 and maxima[3] <= 8 and maxima[-1] <= 30
    assert maxima[3] > maxima[0]


async def test_blocked_user_is_marked_unreachable_and_never_retried(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel="test", external_id="anna", created_at=clock.now)
        session.add(citizen)
        await session.flush()
        citizen_id = citizen.id
    await enqueue(core, clock, "uno", "due", "tre", citizen_id=citizen_id)
    sender = ScriptedSender(Unreachable("Forbidden: bot was blocked by the user"))
    d = make(core, sender, clock)
    for _ in range(5):
        await d.flush()
        clock.advance(minutes=10)
    assert sender.calls == 1
    assert {r.status for r in await rows(core)} == {"failed"}
    async with core.sessions() as session:
        assert (await session.get(Citizen, citizen_id)).is_unreachable  # type: ignore[union-attr]


async def test_rejected_message_fails_without_retry(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender(Rejected(400, "Bad Request: chat not found"))
    await enqueue(core, clock, "uno")
    d = make(core, sender, clock)
    await d.flush()
    clock.advance(hours=1)
    await d.flush()
    [row] = await rows(core)
    assert sender.calls == 1 and row.status == "failed" and row.error_code == "400"


async def test_a_failing_reply_holds_back_later_replies_to_the_same_chat(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender(Transient("timeout"))
    await enqueue(core, clock, "uno", "due", "tre", recipient="anna")
    await enqueue(core, clock, "altro", recipient="bruno")
    d = make(core, sender, clock, policy=RetryPolicy(base=1, cap=1))
    await d.flush()
    assert [m.text for m in sender.sent] == ["altro"]
    clock.advance(seconds=2)
    await d.flush()
    assert [m.text for m in sender.sent] == ["altro", "uno", "due", "tre"]


async def test_a_crashing_adapter_does_not_lose_the_row(core: Core, clock: FakeClock) -> None:
    class Broken:
        channel = "test"

        async def send(self, message: Outgoing) -> str | None:
            raise KeyError("bug")

    await enqueue(core, clock, "uno")
    d = Dispatcher(core.sessions, {"test": Broken()}, clock=clock)
    await d.flush()
    [row] = await rows(core)
    assert row.status == "pending" and row.attempts == 1 and "KeyError" in (row.last_error or "")


async def test_sent_row_records_the_provider_id_and_is_never_sent_again(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender()
    await enqueue(core, clock, "uno")
    d = make(core, sender, clock)
    await d.flush()
    clock.advance(hours=2)
    await d.flush()
    [row] = await rows(core)
    assert row.status == "sent" and row.provider_message_id == "p1" and len(sender.sent) == 1


@pytest.mark.parametrize("make_error", [lambda: Throttled(1), lambda: Transient("x")], ids=["throttled", "transient"])
async def test_retryable_errors_are_retryable(make_error: Callable[[], SendError]) -> None:
    assert make_error().retryable


class GatedSender(ScriptedSender):
    """Holds every send to `slow` until `gate` opens; others go at once."""

    def __init__(self, slow: str, core: Core) -> None:
        super().__init__()
        self.slow = slow
        self.core = core
        self.gate = asyncio.Event()

    async def send(self, message: Outgoing) -> str | None:
        if message.recipient == self.slow:
            await self.gate.wait()
        return await super().send(message)


@contextlib.asynccontextmanager
async def sending(d: Dispatcher, sender: GatedSender) -> AsyncIterator[None]:
    """`d.run_forever` for the block; on the way out the gate opens and every row sent is marked."""
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop))
    try:
        yield
        sender.gate.set()
        for _ in range(500):
            if all(r.status == "sent" for r in await rows(sender.core)):
                break
            await asyncio.sleep(0.01)
    finally:
        sender.gate.set()
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@pytest.mark.parametrize(
    "told", [None, {("test", "veloce"), ("test", "lenta")}], ids=["wake naming no chat", "wake naming the chats"]
)
async def test_run_forever_sends_new_replies_while_a_slow_chat_is_still_sending(
    core: Core, clock: FakeClock, told: set[tuple[str, str]] | None
) -> None:
    """The pipeline: a chat stuck in its send does not hold back another chat's reply committed later,
    whether the wake names the chats written for (a turn) or not (a job): a chat not in flight is claimed at once."""
    sender = GatedSender(slow="lenta", core=core)
    await enqueue(core, clock, "attesa", recipient="lenta")
    d = make(core, sender, clock, idle_poll=30.0)  # only the wake can start the second claim in time
    async with sending(d, sender):
        for _ in range(500):  # the slow chat is claimed and waiting in its send
            if (await rows(core))[0].next_attempt_at > clock.now:
                break
            await asyncio.sleep(0.01)
        await enqueue(core, clock, "subito", recipient="veloce")
        d.wake(told)  # what the pipeline does after committing a reply
        for _ in range(500):
            if sender.sent:
                break
            await asyncio.sleep(0.01)
        assert [m.text for m in sender.sent] == ["subito"], "the new reply waited behind the slow chat"
    assert [m.text for m in sender.sent] == ["subito", "attesa"]
    assert [r.status for r in await rows(core)] == ["sent", "sent"]


async def test_run_forever_keeps_a_chat_in_order_across_claims(core: Core, clock: FakeClock) -> None:
    """A chat's next row is claimed only once its earlier one is committed sent, never beside it."""
    sender = ScriptedSender()
    d = make(core, sender, clock, batch_size=2, idle_poll=0.01)
    for n in range(6):
        await enqueue(core, clock, f"a{n}", recipient="anna")
        await enqueue(core, clock, f"b{n}", recipient="bruno")
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop))
    try:
        for _ in range(1000):
            if len(sender.sent) == 12 and all(r.status == "sent" for r in await rows(core)):
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert [m.text for m in sender.sent if m.recipient == "anna"] == [f"a{n}" for n in range(6)]
    assert [m.text for m in sender.sent if m.recipient == "bruno"] == [f"b{n}" for n in range(6)]
    assert len(sender.sent) == 12


async def test_a_citizen_writing_during_a_broadcast_is_answered_in_the_next_batch(core: Core, clock: FakeClock) -> None:
    """Replies go before announcements (storage/outbox.claim_batch): nobody waits for a broadcast."""
    async with transaction(core.sessions) as session:
        announcement = Broadcast(requested_channel="test", requested_by="admin", recipients=300, created_at=clock.now)
        session.add(announcement)
        await session.flush()
        await outbox.enqueue_many(
            session,
            [
                {**outbox.row(channel="test", recipient=f"b{i}", citizen_id=None, text="annuncio", now=clock.now), "broadcast_id": announcement.id}
                for i in range(300)
            ],
        )
    sender = ScriptedSender()
    d = make(core, sender, clock, batch_size=10)
    assert await d.run_once() == 10
    await core.pipeline.handle(Inbound(channel="test", external_id="1", sender="carla", received_at=clock.now, text="ciao"))
    assert await d.run_once() == 10
    second = [m.recipient for m in sender.sent[10:]]
    replies = second.count("carla")
    assert replies >= 1 and second[:replies] == ["carla"] * replies, "the replies leave in the next batch, first"
    assert second[replies:] == [f"b{i}" for i in range(10, 20 - replies)], "then the broadcast resumes in order"


async def test_a_429_that_never_ends_fails_the_row_after_a_bounded_total_wait(core: Core, clock: FakeClock) -> None:
    """Waiting on a 429 was never counted, so a provider that always says "later" kept a row (and its
    chat) pending for ever (issue 13). Now the waits add up, and past the bound the row fails, visibly."""
    sender = ScriptedSender(*[Throttled(retry_after=600)] * 100)
    await enqueue(core, clock, "uno", "due")
    d = make(core, sender, clock, policy=RetryPolicy(max_throttled_seconds=3600))
    for _ in range(20):
        await d.flush()
        clock.advance(seconds=601)
    first, second = await rows(core)
    assert sender.calls == 14  # 6 waits of 600 s fit in 3,600 s; the 7th 429 of each row ends it
    for row in (first, second):
        assert row.status == "failed" and row.throttled_seconds == 3600 and row.attempts == 1
        assert (row.last_error or "").startswith("Throttled")
    async with core.sessions() as session:
        health = await system_status(session, now=clock.now)
    assert [(c.channel, c.failed_24h) for c in health.channels] == [("test", 2)]


async def test_a_single_wait_beyond_the_bound_fails_at_once(core: Core, clock: FakeClock) -> None:
    sender = ScriptedSender(Throttled(retry_after=86_400), None)
    await enqueue(core, clock, "uno", "due")
    await make(core, sender, clock, policy=RetryPolicy(max_throttled_seconds=3600)).flush()
    first, second = await rows(core)
    assert (first.status, second.status) == ("failed", "sent")  # the chat goes on


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each claim of the test took, in order (0: it came back empty)."""
    taken: list[int] = []
    claim_batch = outbox.claim_batch

    async def counted(*args: object, **kwargs: object) -> list[OutboxMessage]:
        claimed = await claim_batch(*args, **kwargs)  # type: ignore[arg-type]
        taken.append(len(claimed))
        return claimed

    monkeypatch.setattr(outbox, "claim_batch", counted)
    return taken


async def test_run_forever_claims_only_when_a_row_can_be_taken(core: Core, clock: FakeClock, claims: list[int]) -> None:
    """A reply to a chat still being sent waits for that chat's row to be marked, then leaves at once;
    meanwhile no claim scans the outbox for it and comes back empty (issue 18: half of all claims did)."""
    sender = GatedSender(slow="anna", core=core)
    await enqueue(core, clock, "uno", recipient="anna")
    d = make(core, sender, clock, idle_poll=30.0)  # only a wake or a freed chat can start a claim in time
    async with sending(d, sender):
        for _ in range(500):  # "uno" is claimed and held in its send
            if claims:
                break
            await asyncio.sleep(0.01)
        for text in ("due", "tre"):  # two more turns answer anna while "uno" is on its way
            await enqueue(core, clock, text, recipient="anna")
            d.wake({("test", "anna")})
            await asyncio.sleep(0.05)
        assert claims == [1], "a claim ran for a chat whose earlier row is still in flight"
    assert [m.text for m in sender.sent] == ["uno", "due", "tre"]
    assert claims[:2] == [1, 2], "once 'uno' was marked sent, one claim took both replies behind it"
    assert 0 not in claims[:2]


class PacedSender(ScriptedSender):
    """One send at a time, each a few milliseconds, as a provider's overall rate limit lets them out:
    chats settle one by one."""

    def __init__(self) -> None:
        super().__init__()
        self.one_at_a_time = asyncio.Lock()

    async def send(self, message: Outgoing) -> str | None:
        async with self.one_at_a_time:
            await asyncio.sleep(0.002)
            return await super().send(message)


@pytest.mark.parametrize("unnamed_wakes", [0, 3], ids=["alone", "with jobs waking the dispatcher meanwhile"])
async def test_a_backlog_is_claimed_in_batches_not_row_by_row(core: Core, clock: FakeClock, claims: list[int], unnamed_wakes: int) -> None:
    """Chats cut short by a full claim are claimed again once half the room is free, not each as it settles;
    so are the chats in flight when a wake names no chats (a job's): what it wrote may be behind them."""
    for n in range(3):
        for chat in range(40):
            await enqueue(core, clock, f"annuncio {n}", recipient=f"c{chat}")
    sender = PacedSender()
    d = make(core, sender, clock, batch_size=20, idle_poll=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop))
    try:
        for n in range(1000):
            if len(sender.sent) == 120 and all(r.status == "sent" for r in await rows(core)):
                break
            if n % 5 == 4 and n < 5 * unnamed_wakes:
                d.wake()
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert len(sender.sent) == 120
    assert len([c for c in claims if c]) <= 15, f"{len(claims)} claims of {claims}: the backlog went row by row"


# Replies handed over by the turn that wrote them (issue 18): no claim reads them back.


def citizen_says(clock: FakeClock, n: int, text: str, *, sender: str = "anna") -> Inbound:
    return Inbound(channel="test", external_id=f"{sender}-{n}", sender=sender, received_at=clock.now, text=text)


@contextlib.asynccontextmanager
async def running(d: Dispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(d.run_forever(stop))
    try:
        await until(lambda: d.state is not None, "the dispatcher running")  # only then does it take rows from turns
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def until(predicate: Callable[[], object], what: str) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def all_sent(core: Core) -> bool:
    return all(r.status == "sent" for r in await rows(core))


async def test_a_turn_hands_its_replies_to_the_running_dispatcher_without_a_claim(
    core: Core, clock: FakeClock, claims: list[int]
) -> None:
    """A live dispatcher in the same process sends a turn's replies as soon as it commits: the claim
    that read them back cost more than the turn's own statements (issue 18), and now runs for none."""
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)  # no claim but the first, unless one is asked for
    async with running(d):
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await until(lambda: len(sender.sent) == 2, "the welcome sent")
        await core.pipeline.handle(citizen_says(clock, 2, "1"))
        await until(lambda: len(sender.sent) == 3, "the next question sent")
        for _ in range(100):
            if await all_sent(core):
                break
            await asyncio.sleep(0.01)
    assert "Ciao" in sender.sent[0].text and all(m.recipient == "anna" for m in sender.sent)
    assert [r.status for r in await rows(core)] == ["sent"] * 3, "each sent once, and marked"
    assert claims == [0], "a claim read the replies back"
    assert [m.outbox_id for m in sender.sent] == [r.id for r in await rows(core)], "in the order they were written"


async def test_the_erasure_confirmation_a_turn_hands_over_forgets_the_chat_id_once_sent(
    core: Core, clock: FakeClock, claims: list[int]
) -> None:
    """Only a row written to be purged makes the sent mark look for what to purge: the one the turn
    hands over, never read back by a claim, must still say so."""
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    async with running(d):
        for n, text in enumerate(("ciao", "/cancella_dati", "sì"), start=1):
            await core.pipeline.handle(citizen_says(clock, n, text))
        await until(lambda: any("abbiamo cancellato i tuoi dati" in m.text for m in sender.sent), "the confirmation sent")
        for _ in range(100):
            async with core.sessions() as session:
                citizen = (await session.execute(select(Citizen))).scalar_one()
            if citizen.external_id != "anna":
                break
            await asyncio.sleep(0.01)
    assert claims == [0], "the confirmation was claimed, not handed over"
    assert citizen.external_id == f"erased-{citizen.id}"
    async with core.sessions() as session:
        confirmation = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc()))).scalars().first()  # type: ignore[union-attr]
    assert confirmation is not None and confirmation.status == "sent"
    assert (confirmation.recipient, confirmation.purge_recipient) == (citizen.external_id, False)


async def test_a_reply_written_while_the_chat_is_still_sending_follows_it_in_order(
    core: Core, clock: FakeClock, claims: list[int]
) -> None:
    """The chat's earlier replies still in their send are all here: the new ones join them, behind, with no claim."""
    sender = GatedSender(slow="anna", core=core)
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    async with sending(d, sender):
        await until(lambda: d.state is not None, "the dispatcher running")
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))  # two replies, the first held in its send
        await core.pipeline.handle(citizen_says(clock, 2, "1"))
        assert sender.sent == []
    assert [m.outbox_id for m in sender.sent] == [r.id for r in await rows(core)] and len(sender.sent) == 3
    assert [r.status for r in await rows(core)] == ["sent"] * 3
    assert [c for c in claims if c] == [], "the rows were claimed, not handed over"


async def test_a_reply_behind_a_row_waiting_for_its_retry_waits_too(core: Core, clock: FakeClock, claims: list[int]) -> None:
    """A row of the chat that is not here (backing off, or another worker's) goes first: the turn's
    replies are left to a claim, which keeps the chat's order."""
    await enqueue(core, clock, "prima", recipient="anna")
    async with transaction(core.sessions) as session:
        (first,) = await rows(core)
        assert first.id is not None
        await outbox.retry_at(session, message_id=first.id, at=clock.now + timedelta(seconds=30), error="Transient: x")
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=0.02, wakeups=core.wakeups)
    async with running(d):
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await asyncio.sleep(0.2)
        assert sender.sent == [], "the replies overtook the row backing off"
        clock.advance(seconds=31)
        await until(lambda: len(sender.sent) == 3, "all three sent")
    assert [m.text for m in sender.sent][0] == "prima"
    assert [m.outbox_id for m in sender.sent] == [r.id for r in await rows(core)]


async def test_a_turn_rolled_back_gives_its_room_back(core: Core, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn drawn again after writing its leased replies (a ticket collision, a race) gives the
    dispatcher's room back each time: nothing stays reserved for rows that were never committed."""
    sender = ScriptedSender()
    d = make(core, sender, clock, idle_poll=30.0, wakeups=core.wakeups)
    enqueue_leased = outbox.enqueue_leased
    failures = [needs.TicketTaken()]

    async def collides(*args: Any, **kwargs: Any) -> list[int]:
        ids = await enqueue_leased(*args, **kwargs)
        if failures:
            raise failures.pop()
        return ids

    monkeypatch.setattr(outbox, "enqueue_leased", collides)
    async with running(d):
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await until(lambda: len(sender.sent) == 2, "the welcome sent")
        state = d.state
        assert state is not None
        for _ in range(100):
            if not state.lanes:
                break
            await asyncio.sleep(0.01)
        assert (state.in_flight, state.lanes) == (0, {}), "room kept for the rolled-back rows"
    assert [r.status for r in await rows(core)] == ["sent", "sent"]


async def test_rows_handed_over_after_an_earlier_row_failed_are_given_back_and_leave_after_it(
    core: Core, clock: FakeClock
) -> None:
    """The chat's row in flight fails between a turn's reservation and its commit: the handed-over
    row must not overtake it, so it goes back to the claims, which send the failed row first."""
    sender = GatedSender(slow="anna", core=core)
    sender.outcomes = [Transient("503")]
    await enqueue(core, clock, "prima", recipient="anna")
    d = make(core, sender, clock, idle_poll=0.02, wakeups=core.wakeups, policy=RetryPolicy(base=10.0))
    async with running(d):
        await until(lambda: d.state is not None and d.state.lanes, "'prima' claimed and held in its send")
        handoff = d.reserve(("test", "anna"), 1)
        assert handoff is not None
        written = [outbox.row(channel="test", recipient="anna", citizen_id=None, text="dopo", now=clock.now)]
        async with transaction(core.sessions) as session:
            assert handoff.may_follow(await outbox.pending_ids(session, ("test", "anna")))
            ids = await outbox.enqueue_leased(session, written, until=handoff.until)
        sender.gate.set()  # 'prima' fails (a 503): retried within 10 s, and the chat is broken
        await until(lambda: sender.calls == 1, "'prima' tried")
        await asyncio.sleep(0.05)
        handoff.hand(ids, written, Contact(None, None))
        await asyncio.sleep(0.2)
        assert sender.sent == [], "the handed-over row overtook the one waiting for its retry"
        clock.advance(seconds=11)
        await until(lambda: len(sender.sent) == 2, "both sent")
    assert [m.text for m in sender.sent] == ["prima", "dopo"]


async def test_handed_over_rows_whose_worker_dies_are_sent_after_the_lease(core: Core, clock: FakeClock) -> None:
    """At-least-once as for a claim: the rows were written leased, so nobody sends them until the lease ends."""

    class Dies:
        channel = "test"

        async def send(self, message: Outgoing) -> str | None:
            raise asyncio.CancelledError  # the worker is killed mid-send

    d = make(core, Dies(), clock, idle_poll=30.0, wakeups=core.wakeups)  # type: ignore[arg-type]
    async with running(d):
        await core.pipeline.handle(citizen_says(clock, 1, "ciao"))
        await asyncio.sleep(0.1)
    survivor = ScriptedSender()
    later = make(core, survivor, clock)
    assert await later.flush() == 0, "sent while another worker still held the lease"
    clock.advance(seconds=61)
    assert await later.flush() == 2
    assert [r.status for r in await rows(core)] == ["sent", "sent"]
