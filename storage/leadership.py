"""The SQL of scheduler leadership: a PostgreSQL session advisory lock, and how long its holder has been silent.

Every statement runs on the lock's own connection (AUTOCOMMIT, never pooled), which
`bot/jobs/leader.py` owns: a session advisory lock lives exactly as long as that session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# The lock row of the two-int4 form: classid = key1, objid = key2, objsubid = 2
# (https://www.postgresql.org/docs/current/view-pg-locks.html). `state_change` moves on every
# heartbeat query of the holder's session, so its age is the lease everyone can read.
_HOLDER: Final = text(
    """
    SELECT a.pid, EXTRACT(EPOCH FROM clock_timestamp() - a.state_change)::float8 AS silent
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.classid::int8 = :k1 AND l.objid::int8 = :k2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)


@dataclass(frozen=True, slots=True)
class Holder:
    """The backend holding the lock, and for how many seconds its session has been silent."""

    pid: int
    silent: float


def lock_engine(db: AsyncEngine) -> AsyncEngine:
    """An engine for the lock's connection alone: with NullPool, closing the connection really closes it,
    so the lock can never go back to a pool."""
    return create_async_engine(db.url, poolclass=NullPool)


async def try_lock(conn: AsyncConnection, *, key: tuple[int, int]) -> bool:
    """`pg_try_advisory_lock(int4, int4)`: True if the lock is now this session's."""
    k1, k2 = key
    return bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k1, :k2)"), {"k1": k1, "k2": k2}))


async def hold_session(conn: AsyncConnection, *, application_name: str, idle_timeout: float) -> None:
    """Name the holder's session, and let PostgreSQL end it (freeing the lock) after `idle_timeout` seconds of silence."""
    await conn.execute(text(f"SET application_name = '{application_name}'"))
    await conn.execute(text(f"SET idle_session_timeout = '{int(idle_timeout * 1000)}ms'"))


async def ping(conn: AsyncConnection) -> None:
    """The heartbeat: any statement moves the session's `state_change`."""
    await conn.execute(text("SELECT 1"))


async def holder(conn: AsyncConnection, *, key: tuple[int, int]) -> Holder | None:
    k1, k2 = key
    row = (await conn.execute(_HOLDER, {"k1": k1, "k2": k2})).first()
    return Holder(row.pid, row.silent) if row is not None else None


async def terminate(conn: AsyncConnection, *, pid: int) -> None:
    """End another backend's session (same database role, no superuser needed): its locks go with it."""
    await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
