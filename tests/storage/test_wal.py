"""Group commit (`storage/wal.py`): `synchronous=FULL`'s sync of the WAL, after the write lock is free, shared.

What FULL promises is that a transaction is on disk before anyone is told: here, that
`transaction` returns only once a sync of the WAL file begun after its COMMIT has landed.
A power cut cannot be staged in a test; the syncs can be watched, held and failed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import storage.wal
from storage.db import create_engine, is_outage, off_the_loop, session_factory, transaction


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "wal.sqlite3"


@pytest.fixture
async def sessions(database: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}", group_commit=True)
    try:
        async with transaction(session_factory(engine)) as session:
            await session.execute(text("CREATE TABLE note (x INTEGER, body BLOB)"))
        yield session_factory(engine)
    finally:
        await engine.dispose()


class Syncs:
    """`storage.wal._fsync` watched: the rows committed when each sync of the WAL began; held while `gate` is clear."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.began: list[int] = []
        self.landed = 0
        self.gate = threading.Event()
        self.gate.set()
        self.failing: OSError | None = None

    def wrap(self, real: Callable[[Path], int | None]) -> Callable[[Path], int | None]:
        def fsync(path: Path) -> int | None:
            if not path.name.endswith("-wal"):
                return real(path)  # its folder, once for a new WAL file
            self.began.append(_committed(self.database))  # what a reader sees committed as the sync begins
            assert self.gate.wait(10)
            if self.failing is not None:
                raise self.failing
            inode = real(path)
            self.landed += 1
            return inode

        return fsync


@pytest.fixture
def syncs(database: Path, monkeypatch: pytest.MonkeyPatch) -> Syncs:
    watched = Syncs(database)
    monkeypatch.setattr(storage.wal, "_fsync", watched.wrap(storage.wal._fsync))
    return watched


async def _write(sessions: async_sessionmaker[AsyncSession], x: int, *, on_the_loop: bool = True) -> None:
    async with transaction(sessions, on_the_loop=on_the_loop) as session:
        await session.execute(text("INSERT INTO note (x) VALUES (:x)"), {"x": x})


def _committed(database: Path) -> int:
    reader = sqlite3.connect(database)
    try:
        return int(reader.execute("SELECT count(*) FROM note").fetchone()[0])
    finally:
        reader.close()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.mark.parametrize("on_the_loop", [False, True], ids=["off the loop", "on the loop"])
async def test_a_transaction_returns_only_once_a_sync_of_the_wal_begun_after_its_commit_has_landed(
    sessions: async_sessionmaker[AsyncSession], syncs: Syncs, on_the_loop: bool
) -> None:
    syncs.gate.clear()
    writing = asyncio.create_task(_write(sessions, 1, on_the_loop=on_the_loop))
    await _until(lambda: len(syncs.began) == 1)
    assert syncs.began == [1]  # committed (a reader sees it) before the sync began
    await asyncio.sleep(0.05)
    assert not writing.done()  # on disk only once the sync lands: until then, nobody may be told
    syncs.gate.set()
    await writing
    assert syncs.landed == 1


async def test_writers_commit_while_a_sync_runs_and_share_the_next_one(sessions: async_sessionmaker[AsyncSession], syncs: Syncs) -> None:
    syncs.gate.clear()
    first = asyncio.create_task(_write(sessions, 0))
    await _until(lambda: len(syncs.began) == 1)
    others = [asyncio.create_task(_write(sessions, x)) for x in range(1, 8)]
    # The write lock is free while the first sync is held: the seven commit meanwhile and wait.
    await _until(lambda: _committed(syncs.database) == 8)
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in [first, *others])
    syncs.gate.set()
    await asyncio.gather(first, *others)
    assert syncs.began == [1, 8]  # eight commits, two syncs, each begun after the commits it answers for


async def test_a_failed_sync_fails_its_transactions_as_an_outage_and_the_next_sync_is_tried_afresh(
    sessions: async_sessionmaker[AsyncSession], syncs: Syncs
) -> None:
    syncs.failing = OSError(5, "Input/output error")
    with pytest.raises(OperationalError) as failed:
        await _write(sessions, 1)
    assert is_outage(failed.value)  # the caller answers 503 or tries again, as for a database that is down
    syncs.failing = None
    await _write(sessions, 2)
    assert len(syncs.began) == 2 and syncs.landed == 1


async def test_a_waiter_cancelled_leaves_the_others_sync_alone(sessions: async_sessionmaker[AsyncSession], syncs: Syncs) -> None:
    syncs.gate.clear()
    cancelled, kept = asyncio.create_task(_write(sessions, 1)), asyncio.create_task(_write(sessions, 2))
    await _until(lambda: len(syncs.began) >= 1 and _committed(syncs.database) == 2)
    cancelled.cancel()
    syncs.gate.set()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_the_wal_stays_bounded_its_checkpoints_run_off_the_commits(database: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}", group_commit=True)
    sessions = session_factory(engine)
    wal = database.with_name(database.name + "-wal")
    every = storage.wal.CHECKPOINT_EVERY
    sizes: list[int] = []
    try:
        async with transaction(sessions) as session:
            await session.execute(text("CREATE TABLE note (x INTEGER, body BLOB)"))
        for x in range(4 * every):
            async with transaction(sessions, on_the_loop=True) as session:
                await session.execute(text("INSERT INTO note VALUES (:x, :body)"), {"x": x, "body": bytes(6000)})
            if x == every - 10:  # no checkpoint yet: what this many commits write
                sizes.append(wal.stat().st_size)
        sizes.append(wal.stat().st_size)
    finally:
        await engine.dispose()
    # Unchecked, four times as many commits make a WAL four times as large; checkpointed, it is reused from its start.
    assert sizes[1] < 2 * sizes[0], f"WAL of {sizes[1]} bytes after {4 * every} commits, {sizes[0]} after {every - 9}"


async def test_under_group_commit_connections_sync_nothing_themselves_and_a_hot_commit_stays_on_the_loop_unless_sent_off_it(database: Path) -> None:
    loop = threading.get_ident()
    cases: list[tuple[bool, str, tuple[int, int, bool]]] = [
        (True, "FULL", (1, 0, True)),  # NORMAL, no automatic checkpoint, COMMIT on the loop
        (False, "FULL", (2, 1000, False)),  # FULL as SQLite does it: the COMMIT syncs, on aiosqlite's thread
        (True, "NORMAL", (1, 1000, False)),  # nothing to sync: as configured
    ]
    for group_commit, synchronous, expected in cases:
        engine = create_engine(f"sqlite+aiosqlite:///{database}", group_commit=group_commit, sqlite_synchronous=synchronous)
        commits: list[bool] = []

        @event.listens_for(engine.sync_engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            raw = dbapi_connection._connection._conn
            raw.set_trace_callback(lambda sql: commits.append(threading.get_ident() == loop) if sql == "COMMIT" else None)

        try:
            async with transaction(session_factory(engine), on_the_loop=True) as session:
                sync = (await session.execute(text("PRAGMA synchronous"))).scalar_one()
                checkpoints = (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
            async with transaction(session_factory(engine), on_the_loop=True) as session:
                await off_the_loop(session)  # before a long read: its COMMIT leaves the loop too
                await session.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
        assert (sync, checkpoints, commits[0]) == expected, (group_commit, synchronous)
        assert commits[1:] == [False], (group_commit, synchronous)
