"""What the dispatcher's `run_forever` has claimed and not yet settled: room, chats in flight, marks to commit."""

from __future__ import annotations

import asyncio

from bot.background import wait_any


class InFlight:
    """What `run_forever` has claimed and not yet settled."""

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.closing = False
        self.chats: set[asyncio.Task[None]] = set()
        self.marks: list[tuple[int, str | None]] = []
        self.marked = asyncio.Event()
        """Set when `marks` grew: wakes the committer."""
        self.changed = asyncio.Event()
        """Set when rows settled or committed: room freed, chats free for their next rows."""

    def room(self) -> int:
        return self.max_in_flight - self.in_flight

    async def wait_for_change(self, wake: asyncio.Event, stop: asyncio.Event, *, timeout: float) -> None:
        """Until new rows were committed (`wake`), rows settled, `stop`, or `timeout` (other workers' rows, retries coming due)."""
        await wait_any(wake, stop, self.changed, timeout=timeout)
