"""`storage.db.transaction`, the one unit of work every path opens: all of it or nothing, the connection always back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, session_factory, transaction


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
