"""The dispatcher: sends outbox rows through each channel's sender and records what happened."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import Wakeups
from bot.clock import DatabaseClock, now_in
from bot.inflight import Handoff, InFlight, Lane, News, Ride
from bot.send import RetryPolicy, RowSender
from handlers import Sender
from storage import delivery, erasure, outbox
from storage.outbox import Chat
from storage.db import transaction
from storage.models import OutboxMessage

logger = logging.getLogger(__name__)


ByChat = dict[Chat, list[OutboxMessage]]
_MARK_SENT_RETRIES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 10.0, 10.0)
MARK_LINGER_SECONDS = 0.005
"""How long the first sent row waits for others to share its commit: a chat's next rows wait on it
only when a claim must take them, never a reply a turn hands over (`Handoff`)."""


class Dispatcher:
    """Claims due rows, sends each chat's rows in order, chats side by side (each row by `RowSender`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        *,
        policy: RetryPolicy = RetryPolicy(),
        batch_size: int = 50,
        lease: timedelta = timedelta(seconds=60),
        idle_poll: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        max_in_flight: int | None = None,
        wakeups: Wakeups | None = None,
        recipient: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.recipient = recipient
        self.senders = dict(senders)
        self.policy = policy
        self.batch_size = batch_size
        self.lease = lease
        self.idle_poll = idle_poll
        self.clock = clock or DatabaseClock()
        self.rng = rng or random.Random()
        self.max_in_flight = max_in_flight or 2 * batch_size
        self._rows = RowSender(sessions, self.senders, policy=policy, clock=self.clock, rng=self.rng)
        self._news = News()
        self._purging: set[int] = set()
        """Rows being sent that are the last message to a citizen who erased their data: only their mark looks for what to purge."""
        self._state: InFlight | None = None
        """`run_forever`'s, while it runs: only then are rows handed over by turns (`reserve`)."""
        if wakeups is not None:
            wakeups.on_outbox(self.wake)
            wakeups.on_handoff(self.reserve)
            wakeups.on_marks(self.ride)

    @property
    def state(self) -> InFlight | None:
        """What `run_forever` holds now (None when it is not running): rows in flight, chats being sent to."""
        return self._state

    def wake(self, chats: Collection[Chat] | None = None) -> None:
        """Called after a commit that wrote outbox rows for `chats` (None: it cannot say which), so replies leave at once."""
        self._news.tell(chats)

    def reserve(self, chat: Chat, rows: int) -> Handoff | None:
        """Room for `rows` a turn is writing to `chat`, sent as soon as it commits, without a claim (`Handoff`).

        Only while `run_forever` runs, for a chat of a channel this dispatcher serves (its
        `recipient`'s only, when it has one), with room, and never two turns' rows of one chat at a
        time: None otherwise, and the turn writes its rows for a claim, as before.
        """
        state = self._state
        if state is None or chat[0] not in self.senders:
            return None
        if self.recipient is not None and chat[1] != self.recipient:
            return None
        lane = state.reserve(chat, rows, per_chat=outbox.PER_CHAT)
        if lane is None:
            return None
        return Handoff(state, chat, lane, rows, until=self.clock() + self.lease, take=functools.partial(self._take, state))

    def ride(self) -> Ride | None:
        """The sent marks waiting for the committer, for the turn about to commit to carry (`bot.background.MarksRide`).

        None while `run_forever` is not running, when none wait, or when one of them is an erasure's
        last message (its mark also pseudonymises the chat: the committer's work).
        """
        state = self._state
        if state is None or not state.marks or any(message_id in self._purging for message_id, _ in state.marks):
            return None
        return state.ride(self.clock())

    def _take(self, state: InFlight, chat: Chat, lane: Lane, rows: list[OutboxMessage]) -> None:
        """Rows a committed turn handed over: behind the chat's rows here, or given back if one of those was not sent."""
        ids = [row.id for row in rows if row.id is not None]
        if state.closing:  # `run_forever` has ended: leased, they are claimed when the lease ends
            logger.info("dispatcher stopped: outbox %s left to their lease", ids)
            state.settle(chat, ids)
        elif lane.broken:
            state.waiting.add(chat)  # claimed, in order, once the chat's rows here are settled
            state.track(asyncio.create_task(self._give_back(state, chat, ids)))
        else:
            lane.rows += rows
            if not lane.running:
                state.track(asyncio.create_task(self._run_lane(state, chat, lane)))

    async def _give_back(self, state: InFlight, chat: Chat, ids: list[int]) -> None:
        try:
            async with transaction(self.sessions) as session:
                await outbox.release(session, message_ids=ids, now=self.clock())
        except Exception as exc:  # they stay leased: claimed when the lease ends
            logger.error("dispatcher: giving back outbox %s failed (%s)", ids, type(exc).__name__)
        finally:
            state.settle(chat, ids)

    async def run_once(self) -> int:
        """Send one batch of due rows; returns how many rows were attempted."""
        rows, by_chat, contacts = await self._claim(self.batch_size)
        if not rows:
            return 0
        sent: list[tuple[int, str | None]] = []
        try:
            lanes = [Lane(rows=chat_rows, contacts=dict(contacts)) for chat_rows in by_chat.values()]
            counts = await asyncio.gather(*(self._send_chat(lane, sent, []) for lane in lanes))
        finally:
            done = {message_id for message_id, _ in sent}
            self._purging.difference_update(r.id for r in rows if r.id not in done)  # the sent ones: by `_mark_sent`
            # One commit for the batch (on SQLite each commit is an fsync). Until it lands the rows stay
            # leased, nobody sends them again; a crash before it widens the duplicate window to one batch.
            await self._mark_sent(sent)
        return sum(counts)

    async def _mark_sent(self, sent: list[tuple[int, str | None]]) -> None:
        if not sent:
            return
        now = self.clock()
        # `purge_recipient` is written with the row and never set later: the rows in hand say which to purge.
        purge = [message_id for message_id, _ in sent if message_id in self._purging]
        # The provider has these messages: losing this commit to a database blip would send them
        # again after the lease. Retry within half the lease, so only a crash can duplicate
        # (docs/architecture.md "Failure model"; tests/faults/test_database_outage.py).
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds() / 2
        try:
            for attempt, delay in enumerate(_MARK_SENT_RETRIES, start=1):
                try:
                    async with transaction(self.sessions, on_the_loop=True) as session:
                        await outbox.mark_many_sent(session, sent=sent, now=now)
                        # The last message to a citizen who erased their data: now it is out, forget the chat id.
                        await erasure.purge_sent(session, message_ids=purge)
                    return
                except Exception as exc:
                    if attempt == len(_MARK_SENT_RETRIES) or asyncio.get_running_loop().time() + delay > deadline:
                        raise
                    logger.warning("marking %s outbox rows sent failed (%s): retrying", len(sent), type(exc).__name__)
                    await asyncio.sleep(delay)
        finally:
            self._purging.difference_update(purge)  # not marked: claimed again after the lease, and noted again then

    async def flush(self, *, max_rounds: int = 1000) -> int:
        """Send until nothing is due now (used by the console and by tests)."""
        total = 0
        for _ in range(max_rounds):
            if (sent := await self.run_once()) == 0:
                break
            total += sent
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until `stop`, claiming while earlier rows are still being sent (a pipeline).

        Each chat's claimed rows go out in their own task; every sent row joins one group commit
        (`_mark_sent`), and its chat is free for its next rows as soon as that commit lands. A claim
        runs only when it can take something (`InFlight`): at once for rows committed to a chat not
        in flight (`wake`) or when a chat told about while in flight is free again; once half a batch
        of room is free after a full claim or a chat cut short settled; at least every `idle_poll`.
        At most `max_in_flight` rows are claimed and unsettled at a time: that bounds what a crash
        leaves leased, and keeps each claimed row's send well inside its lease.
        """
        state = self._state = InFlight(self.max_in_flight)
        committer = asyncio.create_task(self._commit_marks(state), name="dispatcher-marks")
        half = max(1, min(self.batch_size, self.max_in_flight) // 2)
        loop = asyncio.get_running_loop()
        last_claim = -math.inf
        room_limited = woken = False
        try:
            while not stop.is_set():
                # Clear before looking: whatever changes from here on ends the wait below.
                state.changed.clear()
                woken = self._news.take(state) or woken
                room = state.room()
                # `idle_poll`: other workers' rows, retries and leases coming due.
                due = loop.time() - last_claim >= self.idle_poll
                if room > 0 and (woken or state.freed or due or (room_limited or state.more) and room >= half):
                    woken = state.freed = state.more = False
                    limit = min(self.batch_size, room)
                    try:
                        claimed = await self._start_chats(state, limit)
                    except Exception:  # the loop must survive a database blip
                        logger.exception("dispatcher claim failed")
                        claimed = 0
                    last_claim = loop.time()
                    room_limited = claimed == limit
                    if room_limited:
                        continue
                await state.wait_for_change(self._news.event, stop, timeout=max(0.0, last_claim + self.idle_poll - loop.time()))
        finally:
            state.stopping = True  # no turn hands rows over from here on
            while state.chats:  # one handed over while these ran started its own
                await asyncio.gather(*state.chats, return_exceptions=True)
            state.closing = True  # the committer drains what is left, then ends
            state.marked.set()
            await committer
            self._state = None

    async def _claim(self, limit: int) -> tuple[list[OutboxMessage], ByChat, Mapping[int, delivery.Contact]]:
        """Claim due rows (this dispatcher's `recipient`'s only, when it has one), grouped by chat, with their contacts."""
        async with transaction(self.sessions, on_the_loop=True) as session:
            now = await now_in(session, self.clock)  # the database's time: leases agree across hosts
            rows = await outbox.claim_batch(
                session, channels=list(self.senders), now=now, limit=limit, lease=self.lease, recipient=self.recipient
            )
            contacts = await delivery.contacts(session, citizen_ids={r.citizen_id for r in rows if r.citizen_id})
        by_chat: ByChat = defaultdict(list)
        for row in rows:
            by_chat[(row.channel, row.recipient)].append(row)
        return rows, by_chat, contacts

    async def _start_chats(self, state: InFlight, limit: int) -> int:
        rows, by_chat, contacts = await self._claim(limit)
        for chat, chat_rows in by_chat.items():
            # Cut short by the batch or by `PER_CHAT`, the chat may have more rows due behind these.
            lane = state.claimed(chat, chat_rows, maybe_more=len(rows) == limit or len(chat_rows) >= outbox.PER_CHAT)
            lane.contacts.update(contacts)
            if not lane.running:
                state.track(asyncio.create_task(self._run_lane(state, chat, lane)))
        return len(rows)

    async def _run_lane(self, state: InFlight, chat: Chat, lane: Lane) -> None:
        """Send the chat's rows, those handed over meanwhile too, until none is left."""
        lane.running = True
        sent: list[tuple[int, str | None]] = []
        taken: list[OutboxMessage] = []
        try:
            await self._send_chat(lane, sent, taken)
        except Exception as exc:  # its unsent rows stay leased and come back after the lease
            lane.broken = True
            # Outbox ids, never the recipient (a phone number or chat id); the traceback only at DEBUG.
            logger.error("dispatcher: sending outbox %s failed (%s)", [r.id for r in taken + lane.rows], type(exc).__name__)
            logger.debug("dispatcher: sending outbox %s failed", [r.id for r in taken + lane.rows], exc_info=True)
        finally:
            lane.running = False
            taken += lane.rows
            lane.rows.clear()
            # Rows settled here (failed, held, released, or left leased) free their room now;
            # sent ones when their commit lands.
            state.to_mark(chat, sent)
            done = {message_id for message_id, _ in sent}
            unsent = [r.id for r in taken if r.id is not None and r.id not in done]
            self._purging.difference_update(unsent)
            state.settle(chat, unsent)

    async def _commit_marks(self, state: InFlight) -> None:
        """One commit for whatever was sent since the last one (group commit), until closed and drained."""
        while True:
            if not state.marks:
                if state.closing and not state.riding:
                    return
                state.marked.clear()
                await state.marked.wait()
                # Let the sends finishing now join this commit: handed-over replies leave one chat
                # at a time, not as a claim's batch, and a commit each cost an fsync each.
                await asyncio.sleep(MARK_LINGER_SECONDS)
                continue
            batch, chats = state.take_marks()
            try:
                await self._mark_sent(batch)
            except Exception:  # they stay leased: sent again after the lease (the documented window)
                logger.exception("dispatcher: %s sent rows not marked", len(batch))
            finally:
                state.settle_marks(batch, chats)

    async def _send_chat(self, lane: Lane, sent: list[tuple[int, str | None]], taken: list[OutboxMessage]) -> int:
        """Send the lane's rows from the front, rows added meanwhile too; each one taken joins `taken`."""
        attempted = 0
        while lane.rows:
            row = lane.rows.pop(0)
            taken.append(row)
            if row.purge_recipient and row.id is not None:
                self._purging.add(row.id)
            attempted += 1
            if not await self._rows.send(row, sent, lane.contacts.get(row.citizen_id or 0)):
                # Keep the chat in order: later rows wait behind the one that failed, and so do
                # rows handed over from now on (`_take`). Rows a claim adds meanwhile are due in
                # the chat's order (the failed one first, when its retry is due): they go on.
                lane.broken = True
                rest = lane.rows[:]
                lane.rows.clear()
                taken += rest
                async with transaction(self.sessions) as session:
                    await outbox.release(session, message_ids=[r.id for r in rest if r.id is not None], now=self.clock())
        return attempted
