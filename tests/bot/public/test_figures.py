"""A territory's figures are read once per period: a past period is kept, the latest is read again after the TTL, behind the reader;
the monthly summary gives the same figures as the needs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot.core import Core
from bot.public import Figures
from conversations.demand import Level
from conversations.durations import bounds, bucket_of
from storage import demand_summary
from tests.helpers.coops import CERVIA, RAVENNA, add_need


def _figures(core: Core, ttl: float) -> Figures:
    return Figures(
        core.sessions, clock=core.clock, timezone="Europe/Rome", threshold=5, months=12, ttl=ttl, other_label=lambda _: "Altri ({province})"
    )


async def _needs(core: Core, n: int, month: int) -> None:
    for day in range(1, n + 1):
        await add_need(core, at=datetime(2026, month, day, 10, tzinfo=UTC))


async def test_the_latest_period_is_cached_until_its_ttl(core: Core) -> None:
    await _needs(core, 6, 10)
    kept, fresh = _figures(core, ttl=3600), _figures(core, ttl=0)
    for figures in (kept, fresh):
        page = await figures.page(Level.COMUNE, RAVENNA, None, "it")
        assert page is not None and page.end_month == date(2026, 10, 1) and page.figures.by_month.total.value == 6
    await _needs(core, 2, 10)
    cached = await kept.page(Level.COMUNE, RAVENNA, None, "it")
    stale = await fresh.page(Level.COMUNE, RAVENNA, None, "it")  # served at once, read again behind
    await fresh.settled()
    again = await fresh.page(Level.COMUNE, RAVENNA, None, "it")
    assert cached is not None and cached.figures.by_month.total.value == 6
    assert stale is not None and stale.figures.by_month.total.value == 6
    assert again is not None and again.figures.by_month.total.value == 8


async def test_a_past_period_is_kept_and_a_future_one_is_the_latest(core: Core) -> None:
    await _needs(core, 6, 6)
    figures = _figures(core, ttl=0)
    past = await figures.page(Level.COMUNE, RAVENNA, date(2026, 6, 1), "it")
    await _needs(core, 2, 6)
    assert past is not None and past == await figures.page(Level.COMUNE, RAVENNA, date(2026, 6, 1), "it")
    future = await figures.page(Level.COMUNE, RAVENNA, date(2027, 3, 1), "it")
    assert future is not None and future.end_month == date(2026, 10, 1)
    assert await figures.page(Level.COMUNE, "999999", None, "it") is None


async def test_a_page_reads_the_same_figures_from_the_summary_as_from_the_needs(core: Core) -> None:
    for i in range(40):
        await add_need(
            core, at=datetime(2026, 1 + i % 10, 1 + i % 27, 10, tzinfo=UTC), comune=(RAVENNA, CERVIA)[i % 2],
            category=("spesa", "casa", "anziani")[i % 3], claimed_after=timedelta(hours=1 + i % 7) if i % 4 else None,
        )  # fmt: skip
    from_needs = await _figures(core, ttl=3600).page(Level.PROVINCIA, "RA", None, "it")
    await demand_summary.refresh(core.sessions, now=core.clock(), timezone="Europe/Rome")
    from_summary = await _figures(core, ttl=3600).page(Level.PROVINCIA, "RA", None, "it")
    assert from_needs is not None and from_summary is not None
    exact, estimate = from_needs.figures.claim_hours, from_summary.figures.claim_hours
    assert exact is not None and estimate is not None
    assert abs(estimate - exact) <= bounds(bucket_of(exact))[1] - bounds(bucket_of(exact))[0]
    assert replace(from_summary.figures, claim_hours=exact) == from_needs.figures  # every table, trend and note
