"""The database's clock: the one time every worker agrees on, for leases and due times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SQLITE_NOW: Final = text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
"""UTC to the millisecond, in the layout SQLAlchemy stores DateTime in on SQLite (`UTCDateTime`)."""
_POSTGRES_NOW: Final = text("SELECT clock_timestamp()")
"""The time now, not `now()`: that is the transaction's start, which may be a while ago."""


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock, as an aware UTC datetime.

    Leases and due times compared by several workers must come from here (bot/clock.py
    `DatabaseClock`), not from each host's clock: a host 60 s ahead otherwise takes a row
    another host is still sending for one whose lease ran out. On SQLite the database's
    clock is the clock of the host the file is on, i.e. this one.
    """
    if session.get_bind().dialect.name == "sqlite":
        stamp = await session.scalar(_SQLITE_NOW)
        return datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC)
    value = await session.scalar(_POSTGRES_NOW)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)
