"""`storage.db.transaction`, the one unit of work every path opens: all of it or nothing, the connection always back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import storage.db
from storage.db import create_engine, is_outage, session_factory, transaction


@pytest.fixture(params=[False, True], ids=["off the loop", "on the loop"])
def on_the_loop(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS unit_of_work (x INTEGER)"))
            await session.execute(text("DELETE FROM unit_of_work"))
            await session.execute(text("CREATE TABLE IF NOT EXISTS parent_of_work (id INTEGER PRIMARY KEY)"))
            # Checked at COMMIT, on both backends: a commit that fails.
            await session.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS child_of_work"
                    " (parent_id INTEGER REFERENCES parent_of_work (id) DEFERRABLE INITIALLY DEFERRED)"
                )
            )
        yield session_factory(engine)
        async with transaction(session_factory(engine)) as session:
            for table in ("unit_of_work", "child_of_work", "parent_of_work"):
                await session.execute(text(f"DROP TABLE {table}"))
    finally:
        await engine.dispose()


def _checked_out(sessions: async_sessionmaker[AsyncSession]) -> int:
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return int(bind.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with transaction(sessions) as session:
        return [x for x, in (await session.execute(text("SELECT x FROM unit_of_work ORDER BY x"))).all()]


async def test_a_block_that_ends_is_committed_and_gives_its_connection_back(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool
) -> None:
    async with transaction(sessions, on_the_loop=on_the_loop) as session:
        await session.execute(text("INSERT INTO unit_of_work VALUES (1)"))
        await session.execute(text("INSERT INTO unit_of_work VALUES (2)"))
    assert _checked_out(sessions) == 0
    assert await _rows(sessions) == [1, 2]


async def test_a_block_that_raises_writes_nothing_and_the_error_is_the_callers(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool
) -> None:
    with pytest.raises(LookupError, match="the turn's own"):
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO unit_of_work VALUES (1)"))
            raise LookupError("the turn's own")
    assert _checked_out(sessions) == 0
    assert await _rows(sessions) == []


async def test_a_cancelled_block_writes_nothing_and_gives_its_connection_back(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool
) -> None:
    inside = asyncio.Event()

    async def turn() -> None:
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO unit_of_work VALUES (1)"))
            inside.set()
            await asyncio.sleep(60)  # a send, a lock: whatever a shutdown cancels

    task = asyncio.create_task(turn())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _checked_out(sessions) == 0
    assert await _rows(sessions) == []
    # The connection came back usable: the next unit of work commits on it.
    async with transaction(sessions, on_the_loop=on_the_loop) as session:
        await session.execute(text("INSERT INTO unit_of_work VALUES (3)"))
    assert await _rows(sessions) == [3]


async def test_a_commit_that_fails_writes_nothing_and_gives_its_connection_back(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool
) -> None:
    with pytest.raises(IntegrityError):
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO unit_of_work VALUES (1)"))
            await session.execute(text("INSERT INTO child_of_work VALUES (404)"))  # no such parent, seen at COMMIT
    assert _checked_out(sessions) == 0
    assert await _rows(sessions) == []
    async with transaction(sessions, on_the_loop=on_the_loop) as session:
        await session.execute(text("INSERT INTO unit_of_work VALUES (3)"))
    assert await _rows(sessions) == [3]


async def test_writers_of_one_process_wait_for_sqlites_write_lock_in_turn_holding_no_connection(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool, db_url: str
) -> None:
    """SQLite has one write lock. Its busy timeout polls for it (sleeping up to 100 ms between tries)
    while the waiter holds a pooled connection: this process's writers queue instead, in the order
    they came. PostgreSQL's writers lock only their rows: they run side by side."""
    on_sqlite = db_url.startswith("sqlite")
    entered: list[int] = []

    async def writer(n: int) -> None:
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            entered.append(n)
            await session.execute(text("INSERT INTO unit_of_work VALUES (:n)"), {"n": n})

    async with writing(sessions, on_the_loop, 0):
        waiting = [asyncio.create_task(writer(n)) for n in range(1, 5)]
        await asyncio.sleep(0.1)
        if on_sqlite:
            assert entered == [] and _checked_out(sessions) == 1  # the four wait their turn, no connection in hand
        else:
            assert sorted(entered) == [1, 2, 3, 4]
    await asyncio.wait_for(asyncio.gather(*waiting), 10)
    if on_sqlite:
        assert entered == [1, 2, 3, 4]
    assert _checked_out(sessions) == 0
    assert await _rows(sessions) == [0, 1, 2, 3, 4]


async def test_a_writer_that_waits_its_turn_past_the_busy_timeout_fails_as_a_lock_timeout(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As SQLite's own lock wait did: an outage (`is_outage`), which the pipeline tries again later."""
    _queued_on(db_url)
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 100)
    async with writing(sessions, on_the_loop, 1):
        with pytest.raises(OperationalError) as raised:
            async with transaction(sessions, on_the_loop=on_the_loop) as session:
                await session.execute(text("INSERT INTO unit_of_work VALUES (2)"))
    assert is_outage(raised.value) and "locked" in str(raised.value.orig)
    assert await _rows(sessions) == [1]
    assert _checked_out(sessions) == 0


async def test_a_writer_cancelled_while_it_waits_its_turn_leaves_the_queue_moving(
    sessions: async_sessionmaker[AsyncSession], on_the_loop: bool, db_url: str
) -> None:
    _queued_on(db_url)

    async def writer(n: int) -> None:
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO unit_of_work VALUES (:n)"), {"n": n})

    async with writing(sessions, on_the_loop, 1):
        cancelled, last = asyncio.create_task(writer(2)), asyncio.create_task(writer(3))
        await asyncio.sleep(0.05)
        cancelled.cancel()
    await asyncio.wait_for(last, 10)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await _rows(sessions) == [1, 3]
    assert _checked_out(sessions) == 0


@asynccontextmanager
async def writing(sessions: async_sessionmaker[AsyncSession], on_the_loop: bool, n: int) -> AsyncIterator[None]:
    """A transaction that has written `n` and holds on (SQLite's write lock too) until the block ends; committed then."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with transaction(sessions, on_the_loop=on_the_loop) as session:
            await session.execute(text("INSERT INTO unit_of_work VALUES (:n)"), {"n": n})
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    try:
        yield
    finally:
        release.set()
        await asyncio.wait_for(task, 10)


def _queued_on(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's writers do not wait for one another's turn")
