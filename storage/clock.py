"""The database's clock: the one time every worker agrees on, for leases and due times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_POSTGRES_NOW: Final = text("SELECT clock_timestamp()")
"""The time now, not `now()`: that is the transaction's start, which may be a while ago."""


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock, as an aware UTC datetime.

    Leases and due times compared by several workers must come from here (bot/clock.py
    `DatabaseClock`), not from each host's clock: a host 60 s ahead otherwise takes a row
    another host is still sending for one whose lease ran out.

    On SQLite the database's clock is this host's: a WAL database is only ever opened by
    processes of the machine it is on (WAL needs their shared memory), and SQLite's `'now'` is
    that machine's time, to the millisecond. So it is read here, cut to the millisecond, with
    no query (one a claim, issue 18); what it returns is what `strftime('%f', 'now')` would.
    """
    if session.get_bind().dialect.name == "sqlite":
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond - now.microsecond % 1000)
    value = await session.scalar(_POSTGRES_NOW)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)
