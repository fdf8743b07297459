"""The one-hop aiosqlite cursor: same results and errors as SQLAlchemy's, one thread hand-off a statement."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.db
import storage.sqlite_driver
from storage.db import create_engine, is_outage, off_the_loop, session_factory, transaction
from storage.sqlite_driver import BUSY_TIMEOUT_MS, OneHopConnection


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}"


async def test_results_rowcounts_and_errors_are_the_drivers(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            assert isinstance((await conn.get_raw_connection()).dbapi_connection, OneHopConnection)
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
            inserted = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}, {"n": "c"}])
            assert inserted.rowcount == 3  # executemany
            single = await conn.execute(text("INSERT INTO t (name) VALUES ('d')"))
            assert single.lastrowid == 4 and single.rowcount == 1
            returned = await conn.execute(text("INSERT INTO t (name) VALUES ('e') RETURNING id"))
            assert returned.scalar_one() == 5
            updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 3"))
            assert updated.rowcount == 2
            assert (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["a", "b", "c", "d!", "e!"]
            assert (await conn.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with engine.connect() as conn:  # the failed transaction was rolled back, the connection still works
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 5
    finally:
        await engine.dispose()


async def test_a_statement_is_one_hand_off_to_the_worker_thread(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy's own aiosqlite cursor makes four (cursor, execute, fetchall, close)."""
    hand_offs = [0]
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        hand_offs[0] += 1
        return await real(self, fn, *args, **kwargs)

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # connected and set up
            monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
            assert (await conn.execute(text("SELECT 1 UNION SELECT 2"))).scalars().all() == [1, 2]
            assert hand_offs[0] == 1
    finally:
        await engine.dispose()


@pytest.fixture
async def traced(url: str) -> AsyncIterator[tuple[AsyncEngine, list[tuple[int, str]]]]:
    """An engine whose every SQLite statement is recorded with the thread that ran it (COMMIT included), disposed after the test."""
    engine = create_engine(url)
    ran: list[tuple[int, str]] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        raw = dbapi_connection._connection._conn  # aiosqlite's sqlite3 connection
        raw.set_trace_callback(lambda sql: ran.append((threading.get_ident(), sql.split()[0].upper())))

    yield engine, ran
    await engine.dispose()


async def test_an_on_the_loop_transaction_runs_its_statements_and_a_free_begin_on_the_loop_and_commit_off_it(
    traced: tuple[AsyncEngine, list[tuple[int, str]]],
) -> None:
    engine, ran = traced
    sessions = session_factory(engine)
    loop = threading.get_ident()
    async with transaction(sessions) as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))
    for on_the_loop in (False, True):
        ran.clear()
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])  # executemany
            assert (await session.execute(text("SELECT sum(x) FROM t"))).scalar_one() == 3 * (1 + on_the_loop)
        where = {sql: thread == loop for thread, sql in ran if sql != "PRAGMA"}
        assert where == {"BEGIN": on_the_loop, "INSERT": on_the_loop, "SELECT": on_the_loop, "COMMIT": False}, (on_the_loop, ran)
    ran.clear()
    async with transaction(sessions, on_the_loop=True) as session:
        await session.execute(text("SELECT 1"))
        await off_the_loop(session)  # before a long read: the loop keeps serving
        await session.execute(text("SELECT count(*) FROM t"))
    assert [(sql, thread == loop) for thread, sql in ran if sql != "PRAGMA"] == [
        ("BEGIN", True), ("SELECT", True), ("SELECT", False), ("COMMIT", False)
    ]
    ran.clear()
    async with sessions() as session:  # no transaction of ours: BEGIN is where it may wait, never on the loop
        await session.execute(text("SELECT 1"))
    assert all(thread != loop for thread, _ in ran)


async def test_a_begin_that_must_wait_for_the_write_lock_waits_off_the_loop(
    url: str, traced: tuple[AsyncEngine, list[tuple[int, str]]]
) -> None:
    """Another connection holds SQLite's write lock: the BEGIN tried on the loop fails at once, waits
    its turn on the worker thread while the loop keeps serving, and the busy timeout is set back."""
    engine, ran = traced
    sessions = session_factory(engine)
    loop = threading.get_ident()
    async with transaction(sessions) as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))
    async with aiosqlite.connect(url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None) as other:
        await other.execute("BEGIN IMMEDIATE")  # the write lock, held by someone else
        ran.clear()
        ticks = [0]

        async def tick() -> None:
            while True:
                ticks[0] += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(tick())

        async def write() -> None:
            async with transaction(sessions, on_the_loop=True) as session:
                await session.execute(text("INSERT INTO t VALUES (1)"))

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # still waiting for the lock: on the worker thread, not here
        assert ticks[0] >= 10  # the loop kept serving meanwhile
        await other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
        ticking.cancel()
    begins = [(sql, thread == loop) for thread, sql in ran if sql == "BEGIN"]
    assert begins == [("BEGIN", True), ("BEGIN", False)]  # tried here at once, then waited for off the loop
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == BUSY_TIMEOUT_MS
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1


@pytest.mark.parametrize("on_the_loop", [True, False])
async def test_a_begin_that_times_out_on_the_lock_is_an_outage(url: str, monkeypatch: pytest.MonkeyPatch, on_the_loop: bool) -> None:
    """BEGIN IMMEDIATE runs as the dialect's `do_begin` on the driver's cursor: its lock timeout still
    reaches the pipeline as SQLAlchemy's `OperationalError`, which `is_outage` retries, not as a bare
    sqlite3 error that would dead-letter the message."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(storage.sqlite_driver, "BUSY_TIMEOUT_MS", 100)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        async with aiosqlite.connect(url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None) as other:
            await other.execute("BEGIN IMMEDIATE")  # the write lock, held for longer than the busy timeout
            with pytest.raises(OperationalError) as raised:
                async with transaction(sessions, on_the_loop=on_the_loop) as session:
                    await session.execute(text("INSERT INTO t VALUES (1)"))
            await other.execute("ROLLBACK")
        assert is_outage(raised.value) and "locked" in str(raised.value.orig)
        async with transaction(sessions, on_the_loop=on_the_loop) as session:  # the connection still works
            await session.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await engine.dispose()


async def test_an_error_on_the_loop_is_the_drivers_and_rolls_back(traced: tuple[AsyncEngine, list[tuple[int, str]]]) -> None:
    engine, _ran = traced
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await session.execute(text("CREATE TABLE t (x INTEGER UNIQUE)"))
        await session.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError):
        async with transaction(sessions, on_the_loop=True) as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))
    async with transaction(sessions, on_the_loop=True) as session:
        assert (await session.execute(text("SELECT x FROM t"))).scalars().all() == [1]
