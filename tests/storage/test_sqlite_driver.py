"""The one-hop aiosqlite cursor: same results and errors as SQLAlchemy's, one thread hand-off a statement."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine
from storage.sqlite_driver import OneHopConnection


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
