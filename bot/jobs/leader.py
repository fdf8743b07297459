"""Scheduler leadership: one worker leads, chosen by a PostgreSQL advisory lock that a silent holder loses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core import Core
from bot.jobs.scheduler import Scheduler
from storage import leadership
from storage.db import is_sqlite

logger = logging.getLogger(__name__)

LOCK_KEY: Final = (0x4153434F, 1)
"""`pg_try_advisory_lock(int4, int4)` key: "ASCO", lock 1 = the scheduler."""
LEASE_SECONDS: Final = 10.0
"""A leader silent this long is no leader: others take over, and it stops itself."""
APPLICATION_NAME: Final = "ascolto-scheduler-leader"


class Leader:
    """Holds (or waits for) the scheduler lock on a connection of its own.

    A session advisory lock lives as long as its connection, so a hung but
    connected leader would keep it forever (DESIGN.md "Scale-out"). Three
    things bound that to `lease` seconds:

    - the leader runs a heartbeat query every `lease / 4`; if none succeeded
      for `lease`, `is_leader` turns False and jobs stop running here (fencing
      on our side, even before the database notices);
    - its session has `idle_session_timeout = lease`: PostgreSQL itself ends a
      session that stays silent that long, which frees the lock;
    - a waiting worker that finds the holder silent for longer than `lease`
      ends the holder's session with `pg_terminate_backend` (same database
      role, no superuser needed), for servers or poolers where the timeout
      does not apply.
    """

    def __init__(
        self,
        db: AsyncEngine,
        *,
        lease: float = LEASE_SECONDS,
        key: tuple[int, int] = LOCK_KEY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = leadership.lock_engine(db)
        self.lease = lease
        self.key = key
        self.clock = clock
        self._conn: AsyncConnection | None = None
        self._last_ok = float("-inf")

    @property
    def is_leader(self) -> bool:
        return self._conn is not None and self.clock() - self._last_ok < self.lease

    @property
    def interval(self) -> float:
        return self.lease / 4

    async def try_acquire(self) -> bool:
        """One attempt: take the lock, or end a silent holder's session so the next attempt can."""
        if self._conn is not None:
            return await self.heartbeat()
        conn = await asyncio.wait_for(self._engine.connect(), timeout=self.lease)
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if not await leadership.try_lock(conn, key=self.key):
                await self._expire_silent_holder(conn)
                await conn.close()
                return False
            await leadership.hold_session(conn, application_name=APPLICATION_NAME, idle_timeout=self.lease)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._last_ok = self.clock()
        logger.info("scheduler leadership taken (lease %.1fs)", self.lease)
        return True

    async def heartbeat(self) -> bool:
        """Prove we are alive on the lock's own connection; False (and the lock dropped) if we are not."""
        if self._conn is None:
            return False
        if not self.is_leader:
            await self.release()  # too late: someone may already lead
            return False
        try:
            await asyncio.wait_for(leadership.ping(self._conn), timeout=self.lease / 2)
        except Exception as exc:  # the session was ended or the database is gone: the lock is gone with it
            logger.warning("scheduler leadership lost (%s)", type(exc).__name__)
            await self.release()
            return False
        self._last_ok = self.clock()
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        self._last_ok = float("-inf")
        if conn is not None:
            try:
                await conn.invalidate()  # a closed session frees its advisory locks
            except Exception:  # already broken: nothing to release
                logger.debug("leader connection was already gone")
            await conn.close()

    async def close(self) -> None:
        await self.release()
        await self._engine.dispose()

    async def _expire_silent_holder(self, conn: AsyncConnection) -> None:
        holder = await leadership.holder(conn, key=self.key)
        if holder is not None and holder.silent > self.lease:
            logger.warning("scheduler leader (backend %s) silent for %.1fs: ending its session", holder.pid, holder.silent)
            await leadership.terminate(conn, pid=holder.pid)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
    ) -> None:
        """Campaign until `stop`: `on_gain` when the lock is ours, `on_loss` when it is not any more."""
        was_leader = False
        try:
            while not stop.is_set():
                try:
                    await self.try_acquire()
                except Exception as exc:  # database unreachable: we cannot lead, try again later
                    logger.warning("scheduler leadership: database unreachable (%s)", type(exc).__name__)
                    await self.release()
                if self.is_leader != was_leader:
                    was_leader = self.is_leader
                    await (on_gain() if was_leader else on_loss())
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.interval)
                except TimeoutError:
                    pass
        finally:
            if was_leader:
                await on_loss()
            await self.close()


async def run_scheduler(core: Core, stop: asyncio.Event, *, lease: float = LEASE_SECONDS) -> None:
    """The scheduler of this process: always on SQLite (one process), only while leader on PostgreSQL."""
    if is_sqlite(core.settings.database.url):
        scheduler = Scheduler(core)
        await scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.shutdown()
        return
    leader = Leader(core.db, lease=lease)
    current: list[Scheduler] = []

    async def gain() -> None:
        # A fresh APScheduler each time: its memory job store is never shared nor reused.
        scheduler = Scheduler(core, may_run=lambda: leader.is_leader)
        current.append(scheduler)
        await scheduler.start()

    async def lose() -> None:
        while current:
            current.pop().shutdown()
        logger.info("scheduler stopped: not the leader")

    await leader.run(stop, on_gain=gain, on_loss=lose)
