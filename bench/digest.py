"""Benchmark: one cooperative's digest over 1,000,000 needs and 200 cooperatives, on SQLite and PostgreSQL.

Registered in `bench/__main__.py` as ``digest`` (`async run() -> list[Row]`); `python -m bench digest`
runs it alone. The figure to watch is the digest time against the `count(*)` baseline over the same
table; the target is under 2 s per digest, with memory bounded (tracemalloc peak of the digest calls).
`ASCOLTO_BENCH_NEEDS` makes the table smaller for a quick try.
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import text

from bench import Row

NEEDS: Final = int(os.environ.get("ASCOLTO_BENCH_NEEDS", "1000000"))
COOPERATIVES: Final = 200
REPEAT: Final = 5
PERIOD_START: Final = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # a Monday, 8:00 in Rome
PERIOD_END: Final = datetime(2026, 6, 8, 6, 0, tzinfo=UTC)
PG_HOST: Final = os.environ.get("ASCOLTO_BENCH_PG_HOST", "127.0.0.1")
PG_PORT: Final = int(os.environ.get("ASCOLTO_BENCH_PG_PORT", "5432"))


# One need every 63 s from 2025-01-01: 1,000,000 needs span two years. Cooperative 1 (the one
# measured) receives every tenth need, the other 199 share the rest; a third of the needs are
# resolved, a third claimed, a third new. The same rows on both backends.
_SEQ = {
    "sqlite": "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < :n)",
    "postgresql": "WITH seq(x) AS (SELECT generate_series(1, :n))",
}
_AT = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', '2025-01-01 00:00:00', '+' || ({secs}) || ' seconds')",
    "postgresql": "(timestamptz '2025-01-01 00:00:00+00' + ({secs}) * interval '1 second')",
}


def _insert_needs(dialect: str) -> str:
    at = _AT[dialect]
    created = at.format(secs="x * 63")
    claimed = at.format(secs="x * 63 + (x % 50) * 3600")
    resolved = at.format(secs="x * 63 + (x % 200) * 3600")
    return f"""
    {_SEQ[dialect]},
    cats AS (SELECT slug, row_number() OVER (ORDER BY slug) - 1 AS i FROM category),
    comuni AS (SELECT istat_code, row_number() OVER (ORDER BY istat_code) - 1 AS i
               FROM comune WHERE province_code IN ('RA', 'FC', 'BO', 'RN', 'FE'))
    INSERT INTO need (id, ticket, citizen_id, category_slug, description, comune_istat, urgency, contact_method,
                      contact_phone, status, created_at, updated_at, claimed_by_cooperative_id, claimed_at, resolved_at, closed_at)
    SELECT lpad_id, 'B' || x, NULL, cats.slug, 'bench', comuni.istat_code,
           CASE x % 3 WHEN 0 THEN 'alta' WHEN 1 THEN 'media' ELSE 'bassa' END, 'chat', NULL,
           CASE x % 3 WHEN 0 THEN 'risolta' WHEN 1 THEN 'presa_in_carico' ELSE 'nuova' END,
           {created}, {created},
           CASE WHEN x % 3 < 2 THEN (CASE WHEN x % 10 = 0 THEN 1 ELSE 2 + x % 199 END) END,
           CASE WHEN x % 3 < 2 THEN {claimed} END,
           CASE WHEN x % 3 = 0 THEN {resolved} END,
           CASE WHEN x % 3 = 0 THEN {resolved} END
    FROM (SELECT x, 'n' || x AS lpad_id FROM seq) s
    JOIN cats ON cats.i = (x * 7) % 10
    JOIN comuni ON comuni.i = x % (SELECT count(*) FROM comuni)
    """


def _insert_assignments(dialect: str) -> str:
    return """
    INSERT INTO need_assignment (need_id, cooperative_id, status, routed_at)
    SELECT id, CASE WHEN CAST(substr(id, 2) AS INTEGER) % 10 = 0 THEN 1
                    ELSE 2 + CAST(substr(id, 2) AS INTEGER) % 199 END, 'inviata', created_at
    FROM need
    """


async def _load(url: str, dialect: str) -> None:
    from storage import migrate
    from storage.comuni import load_gazetteer
    from storage.db import create_engine

    engine = create_engine(url, sqlite_synchronous="OFF")
    try:
        await migrate.upgrade(engine, load_gazetteer())
        async with engine.begin() as conn:
            for i in range(1, COOPERATIVES + 1):
                await conn.execute(
                    text(
                        "INSERT INTO cooperative (id, slug, name, digest_cron, timezone, language, is_active, created_at, updated_at)"
                        " VALUES (:i, :slug, :name, '0 8 * * mon', 'Europe/Rome', 'it', true, :now, :now)"
                    ),
                    {"i": i, "slug": f"coop-{i}", "name": f"Cooperativa {i}", "now": PERIOD_START},
                )
            await conn.execute(text(_insert_needs(dialect)), {"n": NEEDS})
            await conn.execute(text(_insert_assignments(dialect)))
            if dialect == "postgresql":
                await conn.execute(text("SELECT setval('cooperative_id_seq', :n)"), {"n": COOPERATIVES})
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()


async def _measure(url: str, backend: str) -> list[Row]:
    from conversations.digest import DigestFigures
    from storage import digests
    from storage.db import create_engine, session_factory
    from storage.models import Cooperative

    engine = create_engine(url)
    rows: list[Row] = []
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            coop = await session.get(Cooperative, 1)
            assert coop is not None
            times = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                await session.execute(text("SELECT count(*) FROM need"))
                times.append(time.perf_counter() - t0)
            rows.append(Row("digest", f"{backend}: SELECT count(*) FROM need", statistics.median(times), "s", f"{NEEDS:,} needs, median of {REPEAT}"))
            times = []
            figures: DigestFigures | None = None
            tracemalloc.start()
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                figures = await digests.figures(session, cooperative=coop, period_start=PERIOD_START, period_end=PERIOD_END)
                times.append(time.perf_counter() - t0)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert figures is not None
            note = f"median of {REPEAT}; {figures.total} needs in its week; {COOPERATIVES} cooperatives; target < 2 s"
            rows.append(Row("digest", f"{backend}: one cooperative's digest", statistics.median(times), "s", note))
            rows.append(Row("digest", f"{backend}: peak Python memory", peak / 1e6, "MB", "tracemalloc, digest calls only"))
    finally:
        await engine.dispose()
    return rows


Measure = Callable[[str, str], Awaitable[list[Row]]]
"""Times one benchmark on a built database: (URL, backend name) -> rows."""


async def on_backends(bench: str, measure: Measure) -> list[Row]:
    """Build the 1,000,000-need table on SQLite and on PostgreSQL (skipped when unreachable) and `measure` each."""
    return [*await _sqlite(bench, measure), *await _postgres(bench, measure)]


async def _sqlite(bench: str, measure: Measure) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        t0 = time.perf_counter()
        await _load(url, "sqlite")
        load = Row(bench, "sqlite: build the table", time.perf_counter() - t0, "s", f"{NEEDS:,} needs; not part of the target")
        return [load, *await measure(url, "sqlite")]


async def _postgres(bench: str, measure: Measure) -> list[Row]:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            pass
    except OSError:
        return [Row(bench, "postgresql", float("nan"), "s", f"skipped: no PostgreSQL on {PG_HOST}:{PG_PORT}")]
    from storage.db import create_engine

    name = f"ascolto_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/postgres")

    async def run_admin(sql: str) -> None:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))

    await run_admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        t0 = time.perf_counter()
        await _load(url, "postgresql")
        load = Row(bench, "postgresql: build the table", time.perf_counter() - t0, "s", "not part of the target")
        return [load, *await measure(url, "postgresql")]
    finally:
        await run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def run() -> list[Row]:
    """Build both databases, time the digest and the baseline; PostgreSQL is skipped when unreachable."""
    return await on_backends("digest", _measure)
