"""Benchmark: a public page for a territory of 1,000,000 needs (the region of the digest bench's table), on SQLite and PostgreSQL.

Registered in `bench/__main__.py` as ``public``. The data is the digest bench's (`bench.digest._load`:
1,000,000 needs in five provinces of Emilia-Romagna over two years, bulk-inserted in SQL). Measured:
the figures of a period read from the needs (what a page costs before the monthly summary is
filled, once), the summary's refresh (all months, then the scheduler's every-scan run over the
recent months; not part of the target), the figures read and protected from the summary (cold:
what the first visitor of a period waits for), and a whole page rendered over HTTP (ASGI, no
network) once the period is cached. The target is < 200 ms a page.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from bench import Row
from bench.digest import NEEDS, on_backends

REPEAT: Final = 5
_LAST: Final = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=63 * NEEDS)
"""The digest bench writes one need every 63 s from 2025-01-01 (`bench.digest._insert_needs`)."""
NOW: Final = datetime(_LAST.year + _LAST.month // 12, _LAST.month % 12 + 1, 15, 10, tzinfo=UTC)
"""The month after the last need: the page's 12 months end with it (with 1,000,000 needs, 2026; half the table)."""
PAGES: Final = (("regione", "Emilia-Romagna"), ("provincia", "RA"))


async def _measure(url: str, backend: str) -> list[Row]:
    from bot.config import DatabaseSettings, Settings
    from starlette.applications import Starlette

    from bot.public import build_site
    from conversations import Translator
    from conversations.demand import Level
    from conversations.demand import month_of, start_of
    from storage import demand_summary
    from storage.db import create_engine, session_factory

    engine = create_engine(url)
    rows: list[Row] = []
    try:
        settings = Settings(database=DatabaseSettings(url=url, migrate_on_start=False))
        locales = Path(__file__).resolve().parent.parent / "locales"
        sessions = session_factory(engine)
        site = build_site(settings, sessions, Translator(locales, timezone="Europe/Rome"), lambda: NOW)
        app = Starlette(routes=site.routes())
        async with engine.connect() as conn:
            in_region = int(await conn.scalar(text("SELECT count(*) FROM need")) or 0)
        for level, code in PAGES:  # before the summary: what the pages did until it existed
            t0 = time.perf_counter()
            assert await site.figures.page(Level(level), code, None, "it") is not None
            rows.append(Row("public", f"{backend}: {level} {code}, figures read from the needs (no summary)", (time.perf_counter() - t0) * 1000, "ms", "once"))
        site.figures._cache.clear()  # noqa: SLF001 - measured again from the summary below
        zone = settings.app.timezone
        t0 = time.perf_counter()
        full = await demand_summary.refresh(sessions, now=NOW, timezone=zone, full=True)
        rows.append(Row("public", f"{backend}: summary refresh, all months", time.perf_counter() - t0, "s",
                        f"{full.months} months, {full.rows:,} rows, {in_region:,} needs; not part of the target"))  # fmt: skip
        t0 = time.perf_counter()
        recent = await demand_summary.refresh(sessions, now=NOW + timedelta(minutes=15), timezone=zone)
        rows.append(Row("public", f"{backend}: summary refresh, every scan", time.perf_counter() - t0, "s",
                        f"the last {recent.months} months, {recent.rows:,} rows; not part of the target"))  # fmt: skip
        async with engine.connect() as conn:  # what autovacuum does after so many inserted rows
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        async with sessions() as session:  # the reads below are the summary's, not the needs'
            assert await demand_summary.covers(session, timezone=zone, until=start_of(month_of(NOW, ZoneInfo(zone)), ZoneInfo(zone)))
        for level, code in PAGES:
            cold = []
            for _ in range(REPEAT):
                site.figures._cache.clear()  # noqa: SLF001 - the benchmark measures the uncached read on purpose
                t0 = time.perf_counter()
                page = await site.figures.page(Level(level), code, None, "it")
                cold.append(time.perf_counter() - t0)
            assert page is not None
            total = page.figures.by_month.total.value
            note = f"{total:,} needs in its 12 months; from the summary; target < 200 ms" if total is not None else ""
            rows.append(Row("public", f"{backend}: {level} {code}, figures read (cold)", statistics.median(cold) * 1000, "ms", note))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                warm = []
                for _ in range(REPEAT * 4):
                    t0 = time.perf_counter()
                    response = await client.get(f"/territorio/{level}/{code}")
                    warm.append(time.perf_counter() - t0)
                    assert response.status_code == 200, response.status_code
                rows.append(
                    Row("public", f"{backend}: {level} {code}, page render (cached period)", statistics.median(warm) * 1000, "ms",
                        f"median of {len(warm)}; {in_region:,} needs in the table; target < 200 ms")  # fmt: skip
                )
    finally:
        await engine.dispose()
    return rows


async def run() -> list[Row]:
    return await on_backends("public", _measure)
