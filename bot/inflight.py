"""What the dispatcher's `run_forever` has claimed and not yet settled: room, chats in flight, marks to commit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection

from bot.background import wait_any
from storage.outbox import Chat


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
        self.chats: set[asyncio.Task[None]] = set()
        self.marks: list[tuple[int, str | None]] = []
        self.marked_chats: list[Chat] = []
        """The chat of each of `marks`, in the same order."""
        self.marked = asyncio.Event()
        """Set when `marks` grew: wakes the committer."""
        self.changed = asyncio.Event()
        """Set when rows settled or committed: room freed, chats free for their next rows."""
        self.unsettled: Counter[Chat] = Counter()
        self.waiting: set[Chat] = set()
        self.freed = False
        """A waiting chat settled since the last claim: its next rows can be claimed now."""
        self.backlog: set[Chat] = set()
        self.more = False
        """A backlog chat settled since the last claim: rows may be due behind what it sent."""

    def room(self) -> int:
        return self.max_in_flight - self.in_flight

    def claimed(self, chat: Chat, rows: int, *, maybe_more: bool) -> None:
        """`rows` of `chat` are ours now; with `maybe_more` (the claim was cut short), claim again when they settle."""
        self.in_flight += rows
        self.unsettled[chat] += rows
        if maybe_more:
            self.backlog.add(chat)

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

    def settle(self, chat: Chat, rows: int) -> None:
        """`rows` of `chat` are done with here (committed sent, failed, given back, or left to their lease)."""
        if rows <= 0:
            return
        self.in_flight -= rows
        left = self.unsettled[chat] - rows
        if left > 0:
            self.unsettled[chat] = left
        else:
            del self.unsettled[chat]
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
