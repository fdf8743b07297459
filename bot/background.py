"""Work started after a commit (an on-demand digest, a media sweep), kept until it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol, TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import Contact
from storage.outbox import Chat

logger = logging.getLogger(__name__)


class Background:
    """Tasks nobody awaits inline; `drain` waits for them (tests, shutdown)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def later(self, work: Callable[[], Awaitable[object]]) -> Callable[[], None]:
        """`work` started in the background when the returned callable runs (after a commit)."""
        return lambda: self.spawn(work())

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background work after a commit failed: %s", type(task.exception()).__name__)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no work is left (work started meanwhile included); with `timeout`, at most that
        long, cancelling nothing. True when nothing is left."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(tuple(self._tasks), timeout=left)
        return True


class Handoff(Protocol):
    """A live dispatcher's promise to send a turn's replies to one chat as soon as the turn commits, without a claim.

    The turn reads the chat's pending rows (`storage.outbox.pending_ids`): only if the dispatcher
    holds all of them (`may_follow`) may the new rows skip the queue; it writes them leased until
    `until` (`storage.outbox.enqueue_leased`) and, once committed, hands them over (`hand`). A turn
    that does not get that far, or rolls back, gives the room back (`cancel`).
    """

    @property
    def until(self) -> datetime: ...

    def may_follow(self, pending: Collection[int]) -> bool: ...

    def hand(self, ids: Sequence[int], rows: Sequence[dict[str, object]], contact: Contact) -> None: ...

    def cancel(self) -> None: ...


class MarksRide(Protocol):
    """The live dispatcher's sent marks, waiting for its next group commit, committed by a turn instead.

    On SQLite every commit is an fsync and a transaction's fixed cost, and turns and marks queue for
    the one write lock anyway: a turn about to commit writes the marks waiting then (`write`) and
    settles them once committed (`committed`); one that rolls back gives them back to the
    dispatcher's committer (`cancel`), which commits them as before.
    """

    async def write(self, session: AsyncSession) -> None: ...

    def committed(self) -> None: ...

    def cancel(self) -> None: ...


Taken: TypeAlias = "Handoff | MarksRide"
"""What a turn took from a live dispatcher: given back (`cancel`) if the turn rolls back."""


class Wakeups:
    """Who to wake after a commit: the dispatcher for new outbox rows, the media fetcher for downloads.

    Workers subscribe when they are built; the pipeline and the jobs only say what happened.
    """

    def __init__(self) -> None:
        self._outbox: list[Callable[[Collection[Chat] | None], None]] = []
        self._handoff: list[Callable[[Chat, int], Handoff | None]] = []
        self._marks: list[Callable[[], MarksRide | None]] = []
        self._media: list[Callable[[], None]] = []
        self._voice: list[Callable[[], None]] = []

    def on_outbox(self, wake: Callable[[Collection[Chat] | None], None]) -> None:
        self._outbox.append(wake)

    def on_handoff(self, reserve: Callable[[Chat, int], Handoff | None]) -> None:
        self._handoff.append(reserve)

    def handoff(self, chat: Chat, rows: int) -> Handoff | None:
        """A live dispatcher of this process that takes `rows` of `chat` straight from the turn writing them, or None."""
        for reserve in self._handoff:
            if (taken := reserve(chat, rows)) is not None:
                return taken
        return None

    def on_marks(self, take: Callable[[], MarksRide | None]) -> None:
        self._marks.append(take)

    def marks(self) -> MarksRide | None:
        """A live dispatcher's sent marks for the turn about to commit to carry, or None (none waiting)."""
        for take in self._marks:
            if (ride := take()) is not None:
                return ride
        return None

    def on_media(self, wake: Callable[[], None]) -> None:
        self._media.append(wake)

    def on_voice(self, wake: Callable[[], None]) -> None:
        self._voice.append(wake)

    def voice(self) -> None:
        """Voice notes were queued: the transcriber (`bot/voice.py`) listens at once."""
        for wake in self._voice:
            wake()

    def outbox(self, chats: Collection[Chat] | None = None) -> None:
        """Rows were committed for `chats` (`storage.outbox.written`; None: for chats it cannot name)."""
        for wake in self._outbox:
            wake(chats)

    def media(self) -> None:
        for wake in self._media:
            wake()

    @property
    def has_media_worker(self) -> bool:
        return bool(self._media)


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Until the first of `events` is set or `timeout` passes: the idle wait of the background loops."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
