"""CPU a pipeline turn, with no HTTP on either side: what issue 18's "a turn costs what its work costs" is about.

CHATS citizens side by side, each writing the whole intake ROUNDS times straight into
`Pipeline.handle` (SQLite, synchronous=FULL, the turn budget lifted as in bench telegram); no
dispatcher runs, so the figure is the turn alone: the transaction, its statements, the engine.
The process's CPU (every thread) over the turns. `ASCOLTO_BENCH_TURN_ROUNDS` makes it longer.
Comparing two trees: run it from each (`cd tree && python -m bench turns`), in turn, several times.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench import Row
from bench.load import SCRIPT
from bot.app import build_core
from bot.config import DatabaseSettings, LimitsSettings, Settings
from conversations import Inbound

CHATS: Final = 10
ROUNDS: Final = int(os.environ.get("ASCOLTO_BENCH_TURN_ROUNDS", "4"))


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
    return [
        Row("turns", "pipeline turn, CPU", 1000 * cpu / turns, "ms/turn", detail),
        Row("turns", "pipeline turn, wall clock", 1000 * wall / turns, "ms/turn", detail),
    ]
