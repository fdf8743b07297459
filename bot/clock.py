"""The clocks: this host's, and this host's set to the database's; everything that reads time takes one, so tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import db_now


def utc_now() -> datetime:
    return datetime.now(UTC)


class DatabaseClock:
    """This host's clock, set to the database's, so that leases and due times mean the same on every host.

    `sync` reads the database's time (one query) and keeps how far this host's clock is from
    it; calling the clock is then this host's time plus that offset, with no query. Claims
    (outbox, media) sync in their own transaction and lease from the time they read, so no
    host can see a lease end early; everything else (the time a reply is written and so due,
    a retry's due time) uses the offset of the last sync, which a dispatcher refreshes at
    every claim, at least once a second (`idle_poll_seconds`). `bot.app.build_core` syncs once at start.
    """

    RESOLUTION = timedelta(milliseconds=1)
    """SQLite's clock has milliseconds: a reading may be up to this much behind the true time."""

    def __init__(self, local: Callable[[], datetime] = utc_now) -> None:
        self.local = local
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self.local() + self.offset

    async def sync(self, session: AsyncSession) -> datetime:
        """The database's time now; from here on this clock reads it too, a little behind, never ahead.

        Behind by the query's round trip and the database's resolution: a row stamped here is
        due at the database's next reading, however soon a claim reads it.
        """
        database = await db_now(session)
        self.offset = database - self.local() - self.RESOLUTION
        return database


async def now_in(session: AsyncSession, clock: Callable[[], datetime]) -> datetime:
    """The time to lease and compare due times with: the database's for a `DatabaseClock` (read in
    `session`), else the clock's own (tests moving a fake clock, which stands for the database's)."""
    if isinstance(clock, DatabaseClock):
        return await clock.sync(session)
    return clock()
