"""A territory's figures are read once per period: a past period is kept, the latest is read again after the TTL, behind the reader."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core import Core
from bot.public import Figures
from conversations.demand import Level
from tests.helpers.coops import RAVENNA, add_need


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
