"""CPU a pipeline turn, with no HTTP on either side: what issue 18's "a turn costs what its work costs" is about.

CHATS citizens side by side, each writing the whole intake ROUNDS times straight into
`Pipeline.handle` (SQLite, synchronous=FULL, the turn budget lifted as in bench telegram); no
dispatcher runs, so the figure is the turn alone: the transaction, its statements, the engine.
The process's CPU (every thread) over the turns. `ASCOLTO_BENCH_TURN_ROUNDS` makes it longer.
Comparing two trees: run it from each (`cd tree && python -m bench turns`), in turn, several times.

Beside it, the fixed cost of a hot transaction: TRANSACTIONS transactions of one INSERT through
`storage.db.transaction(..., on_the_loop=True)` (session, pool, BEGIN, COMMIT with its fsync),
against the same three statements run by sqlite3 alone on the calling thread: the floor under
any turn, and what SQLAlchemy's session and aiosqlite's thread add to it; and the same transactions
under group commit (`storage/wal.py`), where a commit alone pays its own sync's trip to a thread.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import text

from bench import Row
from bench.load import SCRIPT
from bot.app import build_core
from bot.config import DatabaseSettings, LimitsSettings, Settings
from conversations import Inbound
from storage.db import create_engine, session_factory, transaction

CHATS: Final = 10
ROUNDS: Final = int(os.environ.get("ASCOLTO_BENCH_TURN_ROUNDS", "4"))
TRANSACTIONS: Final = 2000


async def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as folder:
        settings = Settings(
            database=DatabaseSettings(url=f"sqlite+aiosqlite:///{Path(folder) / 'turns.sqlite3'}"),
            limits=LimitsSettings(turns_per_minute=600, turn_burst=1000),
        )
        core = await build_core(settings)
        gc.freeze()  # as `ascolto run` does once its core is built
        written = [0]

        async def citizen(chat: int, rounds: int) -> None:
            for _ in range(rounds):
                for text in SCRIPT:
                    written[0] += 1
                    event = Inbound(
                        channel="telegram", external_id=f"{chat}-{written[0]}", sender=str(chat), received_at=datetime.now(UTC), text=text
                    )
                    await core.pipeline.handle(event)

        try:
            await citizen(1, 1)  # warm: caches filled, statements compiled
            before, cpu, wall = written[0], time.process_time(), time.perf_counter()
            await asyncio.gather(*(citizen(chat, ROUNDS) for chat in range(100, 100 + CHATS)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await core.close()
    turns = written[0] - before
    detail = f"{turns} turns, {CHATS} citizens side by side, SQLite FULL, no dispatcher"
    ours, grouped, alone = await _transaction_cpu(), await _transaction_cpu(group_commit=True), _sqlite3_transaction_cpu()
    one = f"{TRANSACTIONS} transactions of one INSERT, SQLite FULL, one after the other"
    return [
        Row("turns", "pipeline turn, CPU", 1000 * cpu / turns, "ms/turn", detail),
        Row("turns", "pipeline turn, wall clock", 1000 * wall / turns, "ms/turn", detail),
        Row("turns", "hot transaction through storage.db, CPU", ours, "µs", f"{one}; `transaction(..., on_the_loop=True)`"),
        Row("turns", "the same under group commit, CPU", grouped, "µs", f"{one}, each waiting for its own sync (`create_engine(..., group_commit=True)`, as `ascolto run`)"),
        Row("turns", "the same statements, sqlite3 alone, CPU", alone, "µs", f"{one}; BEGIN IMMEDIATE, INSERT, COMMIT"),
    ]


async def _transaction_cpu(*, group_commit: bool = False) -> float:
    """µs of CPU (every thread) a one-INSERT transaction costs through the session, the pool and the driver."""
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'tx.sqlite3'}", group_commit=group_commit)
        sessions = session_factory(engine)
        insert = text("INSERT INTO t VALUES (1)")
        try:
            async with transaction(sessions) as session:
                await session.execute(text("CREATE TABLE t (x INTEGER)"))

            async def one() -> None:
                async with transaction(sessions, on_the_loop=True) as session:
                    await session.execute(insert)

            for _ in range(100):  # warm: connection opened, statement compiled
                await one()
            cpu = time.process_time()
            for _ in range(TRANSACTIONS):
                await one()
            return 1e6 * (time.process_time() - cpu) / TRANSACTIONS
        finally:
            await engine.dispose()


def _sqlite3_transaction_cpu() -> float:
    """The same transaction with sqlite3 alone, as `create_engine` sets SQLite up (WAL, FULL)."""
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as folder:
        connection = sqlite3.connect(Path(folder) / "raw.sqlite3", isolation_level=None)
        try:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                connection.execute(f"PRAGMA {pragma}")
            connection.execute("CREATE TABLE t (x INTEGER)")
            cpu = time.process_time()
            for _ in range(TRANSACTIONS):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO t VALUES (1)")
                connection.execute("COMMIT")
            return 1e6 * (time.process_time() - cpu) / TRANSACTIONS
        finally:
            connection.close()
