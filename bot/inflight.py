"""What the dispatcher's `run_forever` has claimed and not yet settled: room, chats in flight, marks to commit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.background import wait_any
from storage import outbox
from storage.delivery import Contact
from storage.models import OutboxMessage
from storage.outbox import Chat


@dataclass(slots=True)
class Lane:
    """One chat in flight here: the rows its sending task has still to send, and what is not settled.

    Claimed rows start a lane; rows a turn hands over (`Handoff`) join its end, so
    a chat's replies leave in the order they were written, by one task at a time.
    """

    rows: list[OutboxMessage] = field(default_factory=list)
    """Still to send, in id order: the sending task takes them from the front."""
    contacts: dict[int, Contact] = field(default_factory=dict)
    ids: set[int] = field(default_factory=set)
    """Outbox ids here and not settled: sent and not yet committed included."""
    reserved: int = 0
    """Rows a turn will hand over once it commits (at most one turn at a time)."""
    broken: bool = False
    """A row of it was not sent (retrying, failed, or left to its lease): nothing written after it may
    leave before it, so rows handed over from here on are given back to the claims."""
    running: bool = False
    """Its sending task is on (rows handed over then join it; else they start one)."""


class InFlight:
    """What `run_forever` has claimed and not yet settled.

    A chat's next row can be claimed only once every earlier row of it is settled (sent and
    committed, failed, or given back): `unsettled` counts them by chat. A chat that was told about
    (`wake`) while it still had rows here is `waiting`; when it settles, `freed` asks for a claim
    at once (a reply is behind). A chat a claim cut short, or in flight when a wake named no chats,
    is `backlog`; when it settles, `more` asks for a claim once half the room is free, so a backlog
    is claimed in batches, not row by row.
    So a claim runs when it can take something, not at every change (issue 18: half came back empty).
    """

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.closing = False
        """The committer drains what is left and ends: set once no chat is sending any more."""
        self.stopping = False
        """`run_forever` is ending: no more reservations (`reserve`)."""
        self.chats: set[asyncio.Task[None]] = set()
        self.marks: list[tuple[int, str | None]] = []
        self.marked_chats: list[Chat] = []
        """The chat of each of `marks`, in the same order."""
        self.marked = asyncio.Event()
        """Set when `marks` grew: wakes the committer."""
        self.riding = 0
        """Batches of marks a turn has taken to commit (`Ride`) and not yet committed or given back."""
        self.changed = asyncio.Event()
        """Set when rows settled or committed: room freed, chats free for their next rows."""
        self.unsettled: Counter[Chat] = Counter()
        self.waiting: set[Chat] = set()
        self.freed = False
        """A waiting chat settled since the last claim: its next rows can be claimed now."""
        self.backlog: set[Chat] = set()
        self.more = False
        """A backlog chat settled since the last claim: rows may be due behind what it sent."""
        self.lanes: dict[Chat, Lane] = {}
        """The chats in `unsettled`, each with its rows (`Lane`)."""

    def room(self) -> int:
        return self.max_in_flight - self.in_flight

    def claimed(self, chat: Chat, rows: list[OutboxMessage], *, maybe_more: bool) -> Lane:
        """`rows` of `chat` are ours now; with `maybe_more` (the claim was cut short), claim again when they settle."""
        lane = self._add(chat, len(rows))
        lane.rows += rows
        lane.ids.update(row.id for row in rows if row.id is not None)
        if maybe_more:
            self.backlog.add(chat)
        return lane

    def reserve(self, chat: Chat, rows: int, *, per_chat: int) -> Lane | None:
        """Room for `rows` of `chat` that a turn is writing, to be handed over when it commits; None when not now.

        Not while stopping, without room, while another turn holds a reservation for the chat, or
        once the chat is `broken`; and never past `per_chat` rows of one chat here (a claim's own
        limit: a chat's rows leave well inside their lease).
        """
        lane = self.lanes.get(chat)
        if self.stopping or rows > self.room() or self.unsettled[chat] + rows > per_chat:
            return None
        if lane is not None and (lane.reserved or lane.broken):
            return None
        lane = self._add(chat, rows)
        lane.reserved = rows
        return lane

    def _add(self, chat: Chat, rows: int) -> Lane:
        self.in_flight += rows
        self.unsettled[chat] += rows
        return self.lanes.setdefault(chat, Lane())

    def told(self, chats: Collection[Chat] | None) -> bool:
        """New rows were committed for `chats` (None: for chats unknown): whether a claim can take any now.

        A chat with rows still here cannot be served until they settle: it waits, and costs no claim.
        """
        if chats is None:  # a job's or a broadcast's rows, perhaps behind ours: claimed in batches, as a backlog is
            self.backlog.update(self.unsettled)
            return True
        ahead = [chat for chat in chats if chat in self.unsettled]
        self.waiting.update(ahead)
        return len(ahead) < len(chats)

    def settle(self, chat: Chat, ids: Collection[int], *, rows: int | None = None) -> None:
        """Rows of `chat` are done with here (committed sent, failed, given back, or left to their lease):
        those of `ids`, or `rows` of them when they have none (a reservation given up)."""
        rows = len(ids) if rows is None else rows
        if rows <= 0:
            return
        self.in_flight -= rows
        lane = self.lanes.get(chat)
        if lane is not None:
            lane.ids.difference_update(ids)
        left = self.unsettled[chat] - rows
        if left > 0:
            self.unsettled[chat] = left
        else:
            del self.unsettled[chat]
            self.lanes.pop(chat, None)
            if chat in self.waiting:
                self.waiting.discard(chat)
                self.freed = True
            if chat in self.backlog:
                self.backlog.discard(chat)
                self.more = True
        self.changed.set()

    def track(self, task: asyncio.Task[None]) -> None:
        """A chat's sending task, awaited when the dispatcher stops."""
        self.chats.add(task)
        task.add_done_callback(self.chats.discard)

    def to_mark(self, chat: Chat, sent: list[tuple[int, str | None]]) -> None:
        """Rows of `chat` the provider took (outbox id, provider id): for the committer's next group commit."""
        self.marks += sent
        self.marked_chats += [chat] * len(sent)
        self.marked.set()

    def take_marks(self) -> tuple[list[tuple[int, str | None]], list[Chat]]:
        """The sent rows to commit, and their chats; the lists start empty again."""
        marks, chats = self.marks, self.marked_chats
        self.marks, self.marked_chats = [], []
        return marks, chats

    def ride(self, now: datetime) -> Ride | None:
        """The marks waiting now, for a turn's transaction to commit (`Ride`); None when there are none or the committer is ending."""
        if not self.marks or self.closing:
            return None
        marks, chats = self.take_marks()
        self.riding += 1
        return Ride(self, marks, chats, now)

    def settle_marks(self, marks: Sequence[tuple[int, str | None]], chats: Sequence[Chat]) -> None:
        """A batch of marks is done with (committed, or failed and left to the lease): each chat's rows settle."""
        by_chat: dict[Chat, list[int]] = {}
        for (message_id, _), chat in zip(marks, chats, strict=True):
            by_chat.setdefault(chat, []).append(message_id)
        for chat, ids in by_chat.items():
            self.settle(chat, ids)

    async def wait_for_change(self, wake: asyncio.Event, stop: asyncio.Event, *, timeout: float) -> None:
        """Until new rows were committed (`wake`), rows settled, `stop`, or `timeout` (other workers' rows, retries coming due)."""
        await wait_any(wake, stop, self.changed, timeout=timeout)


class News:
    """What was committed for the dispatcher since it last looked: the chats (None: some it cannot name)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._chats: set[Chat] | None = set()

    def tell(self, chats: Collection[Chat] | None) -> None:
        if chats is None or self._chats is None:
            self._chats = None
        else:
            self._chats.update(chats)
        self.event.set()

    def take(self, state: InFlight) -> bool:
        """Whether any of it can be claimed now (`InFlight.told`); forgotten once looked at."""
        if not self.event.is_set():
            return False
        self.event.clear()
        chats, self._chats = self._chats, set()
        return state.told(chats)


class Ride:
    """Sent marks a turn commits with its own transaction (`bot.background.MarksRide`): one commit, one fsync fewer.

    Taken from the committer's list just before the turn commits, so they commit no later than the
    committer's linger would have; given back to the front of that list if the turn rolls back.
    """

    __slots__ = ("_state", "marks", "_chats", "now", "_open")

    def __init__(self, state: InFlight, marks: list[tuple[int, str | None]], chats: list[Chat], now: datetime) -> None:
        self._state, self.marks, self._chats, self.now = state, marks, chats, now
        self._open = True

    async def write(self, session: AsyncSession) -> None:
        await outbox.mark_many_sent(session, sent=self.marks, now=self.now)

    def committed(self) -> None:
        if self._close():
            self._state.settle_marks(self.marks, self._chats)

    def cancel(self) -> None:
        if self._close():
            state = self._state
            state.marks[:0] = self.marks
            state.marked_chats[:0] = self._chats
            state.marked.set()

    def _close(self) -> bool:
        if not self._open:
            return False
        self._open = False
        self._state.riding -= 1
        if self._state.closing:
            self._state.marked.set()  # the committer ends once no ride is out
        return True


Take = Callable[[Chat, Lane, list[OutboxMessage]], None]
"""What the dispatcher does with the rows of a committed turn (`Dispatcher._take`)."""


class Handoff:
    """Rows a turn writes to one chat, sent by the dispatcher as soon as the turn commits: no claim reads them back.

    `Dispatcher.reserve` gave the room; the turn writes the rows leased until `until` (so no claim, here or
    on another worker, takes them meanwhile) only if every pending row of the chat is here
    (`may_follow`): the new rows then leave after those, in order. At-least-once holds as for a
    claim: a crash before the send leaves them leased, and they are claimed when the lease ends.
    """

    __slots__ = ("_state", "chat", "_lane", "rows", "until", "_take", "_open")

    def __init__(self, state: InFlight, chat: Chat, lane: Lane, rows: int, *, until: datetime, take: Take) -> None:
        self._state, self.chat, self._lane = state, chat, lane
        self.rows, self.until, self._take = rows, until, take
        self._open = True

    def may_follow(self, pending: Collection[int]) -> bool:
        """Whether the chat's pending rows (read in the turn's transaction) are all in flight here."""
        return self._lane.ids.issuperset(pending)

    def hand(self, ids: Sequence[int], rows: Sequence[dict[str, Any]], contact: Contact) -> None:
        """After the turn's commit: the rows it wrote (`ids` in the order of `rows`), and its citizen's contact."""
        if not self._open:
            return
        if len(ids) != self.rows or len(rows) != self.rows:
            self.cancel()
            raise ValueError(f"handed {len(ids)} rows over, {self.rows} reserved")
        self._open = False
        lane = self._lane
        lane.reserved = 0
        lane.ids.update(ids)
        messages = [outbox.as_claimed({**values, "id": message_id, "next_attempt_at": self.until}) for message_id, values in zip(ids, rows)]
        if messages[0].citizen_id is not None:
            lane.contacts[messages[0].citizen_id] = contact
        self._take(self.chat, lane, messages)

    def cancel(self) -> None:
        """The turn wrote nothing for it (rolled back, or the chat had rows elsewhere): its room is free again."""
        if self._open:
            self._open = False
            self._lane.reserved = 0
            self._state.settle(self.chat, (), rows=self.rows)
