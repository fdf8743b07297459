"""The monthly summary: it reads what the needs read, months are replaced whole, and a page it cannot answer reads the needs."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, select, update
from sqlmodel import col

from bot.core import Core
from conversations.demand import Level, RawDemand, month_starts, next_month, start_of
from conversations.durations import bounds, bucket_of
from conversations.vocabulary import AssignmentStatus
from storage import demand, demand_needs, demand_summary
from storage.db import transaction
from storage.models import DEMAND_DURATION, DemandMonth, Need, NeedAssignment
from storage.models.demand import bucket_column
from tests.helpers.clock import FakeClock
from tests.helpers.coops import BOLOGNA, CERVIA, FORLI, RAVENNA, add_coop, add_need

ROME = "Europe/Rome"
OCTOBER = date(2026, 10, 1)
CLAIM_HOURS = (0.1, 2.0, 5.0, 7.5, 30.0, 49.0, 26.0, 400.0)
RESOLVE_HOURS = (3.0, 70.0, 100.0, 170.0, 900.0)


async def _scope(core: Core, level: Level, code: str) -> ColumnElement[bool]:
    async with core.sessions() as session:
        found = await demand.territory(session, level, code)
    assert found is not None
    return found[1]


async def _read(core: Core, level: Level = Level.REGIONE, code: str = "Emilia-Romagna", end: date = OCTOBER, tz: str = ROME) -> RawDemand:
    scope = await _scope(core, level, code)
    async with core.sessions() as session:
        return await demand.read(session, scope=scope, end_month=end, months=12, timezone=tz)


async def _exact(core: Core, level: Level = Level.REGIONE, code: str = "Emilia-Romagna", end: date = OCTOBER) -> demand_needs.Tallies:
    """The needs' own answer, whatever the summary says."""
    scope = await _scope(core, level, code)
    starts = month_starts(end, 24)
    bounds_ = [start_of(d, ZoneInfo(ROME)) for d in (*starts, next_month(starts[-1]))]
    async with core.sessions() as session:
        return await demand_needs.tally(session, scope=scope, bounds=bounds_, months=12)


async def _refresh(core: Core, clock: FakeClock, *, full: bool = False, tz: str = ROME) -> demand_summary.Refreshed:
    return await demand_summary.refresh(core.sessions, now=clock(), timezone=tz, full=full)


async def _varied_needs(core: Core) -> None:
    """Needs over a year and more, in three provinces, claimed, resolved, declined, rated."""
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA, CERVIA))
    base = datetime(2026, 10, 2, 8, tzinfo=UTC)
    for i, hours in enumerate(CLAIM_HOURS):
        await add_need(
            core, at=base + timedelta(days=i), comune=(RAVENNA, CERVIA, FORLI)[i % 3], claimed_by=coop, claimed_after=timedelta(hours=hours),
            category=("spesa", "casa")[i % 2], cooperative_ids=(coop,),
            resolved_after=timedelta(hours=RESOLVE_HOURS[i]) if i < len(RESOLVE_HOURS) else None,
        )  # fmt: skip
    for month in (3, 6, 9):
        await add_need(core, at=datetime(2026, month, 10, tzinfo=UTC), comune=BOLOGNA, category="solitudine")
    await add_need(core, at=datetime(2025, 10, 10, tzinfo=UTC))  # the year before: the trend
    await add_need(core, at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC), cooperative_ids=(coop,))  # 1 November in Rome
    declined = await add_need(core, at=datetime(2026, 8, 4, tzinfo=UTC), comune=CERVIA, cooperative_ids=(coop,))
    async with transaction(core.sessions) as session:
        await session.execute(
            update(NeedAssignment).where(col(NeedAssignment.need_id) == declined.id).values(status=AssignmentStatus.DECLINED)
        )
        rated = select(col(Need.id)).where(col(Need.resolved_at).is_not(None)).scalar_subquery()
        await session.execute(update(Need).where(col(Need.id).in_(rated), col(Need.comune_istat) != FORLI).values(satisfaction=4))
        await session.execute(update(Need).where(col(Need.id).in_(rated), col(Need.comune_istat) == FORLI).values(satisfaction=1))


def _within_a_bucket(estimate: float | None, durations: tuple[float, ...]) -> bool:
    ordered = sorted(durations)
    n = len(ordered)
    middle = (ordered[(n - 1) // 2], ordered[n // 2])
    width = max(bounds(bucket_of(h))[1] - bounds(bucket_of(h))[0] for h in middle)
    return estimate is not None and abs(estimate - statistics.median(ordered)) <= width


async def test_the_summary_reads_what_the_needs_read(core: Core, clock: FakeClock) -> None:
    await _varied_needs(core)
    done = await _refresh(core, clock)
    assert done.is_full and done.months == 14  # from the first need's month (October 2025) to the running one
    for level, code in ((Level.REGIONE, "Emilia-Romagna"), (Level.PROVINCIA, "RA"), (Level.COMUNE, CERVIA), (Level.RETE, "cantiere")):
        async with core.sessions() as session:
            assert await demand_summary.covers(session, timezone=ROME, until=datetime(2026, 11, 1, tzinfo=UTC))
        summary, exact = await _read(core, level, code), await _exact(core, level, code)
        assert summary.counts == exact.counts, (level, code)
        assert summary.claim[1] == exact.claim[1] and summary.resolve[1] == exact.resolve[1]
        assert summary.satisfaction[1] == exact.satisfaction[1]
        assert summary.satisfaction[0] == pytest.approx(exact.satisfaction[0])
    region = await _read(core)
    assert region.claim[1] == len(CLAIM_HOURS) and _within_a_bucket(region.claim[0], CLAIM_HOURS)
    assert region.resolve[1] == len(RESOLVE_HOURS) and _within_a_bucket(region.resolve[0], RESOLVE_HOURS)
    assert region.satisfaction == (pytest.approx((4 * 4 + 1) / 5), 5)  # four answered 4, the one in Forlì 1
    assert region.counts[("spesa", CERVIA, 21)] == (1, 1)  # August: declined by the only cooperative, so uncovered


async def test_durations_are_bucketed_in_sql_as_in_python(core: Core, clock: FakeClock) -> None:
    await _varied_needs(core)
    await _refresh(core, clock)
    async with core.sessions() as session:
        rows = (await session.execute(select(DEMAND_DURATION).where(DEMAND_DURATION.c.month == OCTOBER))).mappings().all()
    found: dict[str, Counter[int]] = {"claim": Counter(), "resolve": Counter()}
    for row in rows:
        for measure in found:
            found[measure].update({k: row[bucket_column(measure, k)] for k in range(32) if row[bucket_column(measure, k)]})
    assert found["claim"] == Counter(bucket_of(h) for h in CLAIM_HOURS)
    assert found["resolve"] == Counter(bucket_of(h) for h in RESOLVE_HOURS)


async def test_before_the_first_refresh_pages_count_on_the_needs(core: Core, clock: FakeClock) -> None:
    await add_need(core, at=datetime(2026, 10, 5, tzinfo=UTC))
    first = await _read(core)
    assert first.counts == {("spesa", RAVENNA, 23): (1, 1)}  # no summary yet: read from the needs
    await _refresh(core, clock)
    await add_need(core, at=datetime(2026, 10, 6, tzinfo=UTC))  # after the refresh: the summary does not know it yet
    assert (await _read(core)).counts == {("spesa", RAVENNA, 23): (1, 1)}
    await _refresh(core, clock)
    assert (await _read(core)).counts == {("spesa", RAVENNA, 23): (2, 2)}


async def test_a_period_ending_after_the_last_refresh_counts_on_the_needs(core: Core, clock: FakeClock) -> None:
    await add_need(core, at=datetime(2026, 11, 5, tzinfo=UTC))
    await _refresh(core, clock)  # 23 November: November is not over
    clock.now = datetime(2026, 11, 28, tzinfo=UTC)
    await add_need(core, at=clock())
    clock.now = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    november = await _read(core, end=date(2026, 11, 1))
    assert november.counts == {("spesa", RAVENNA, 23): (2, 2)}
    async with core.sessions() as session:
        assert not await demand_summary.covers(session, timezone=ROME, until=datetime(2026, 11, 30, 23, tzinfo=UTC))


async def test_a_month_is_replaced_in_one_transaction(core: Core, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    await add_need(core, at=datetime(2026, 10, 5, tzinfo=UTC), claimed_after=timedelta(hours=3))
    await _refresh(core, clock)
    before = await _summary_rows(core)
    await add_need(core, at=datetime(2026, 10, 6, tzinfo=UTC), claimed_after=timedelta(hours=3))
    real_insert = demand_summary.insert

    def failing_insert(table: Any) -> Any:
        if table is demand_summary._DURATION:  # noqa: SLF001 - the second statement of the month fails
            raise RuntimeError("disk full")
        return real_insert(table)

    monkeypatch.setattr(demand_summary, "insert", failing_insert)
    clock.advance(minutes=15)
    with pytest.raises(RuntimeError):
        await _refresh(core, clock)
    assert await _summary_rows(core) == before  # the month's old rows, not half of the new ones
    async with core.sessions() as session:
        found = await demand_summary.state(session)
    assert found is not None and found.covered_until < clock()


async def _summary_rows(core: Core) -> list[tuple[Any, ...]]:
    async with core.sessions() as session:
        months = (await session.execute(select(DemandMonth).order_by(col(DemandMonth.month)))).scalars().all()
        durations = (await session.execute(select(DEMAND_DURATION).order_by(DEMAND_DURATION.c.month))).all()
    return [(m.month, m.comune_istat, m.category_slug, m.needs) for m in months] + [tuple(d) for d in durations]


async def test_another_time_zone_rebuilds_every_month_in_it(core: Core, clock: FakeClock) -> None:
    await add_need(core, at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))  # November in Rome, October in UTC
    await _refresh(core, clock)
    assert [r[0] for r in await _summary_rows(core)] == [date(2026, 11, 1)]
    async with core.sessions() as session:
        assert not await demand_summary.covers(session, timezone="UTC", until=datetime(2026, 11, 1, tzinfo=UTC))
    assert (await _read(core, tz="UTC")).counts == {("spesa", RAVENNA, 23): (1, 1)}  # read from the needs meanwhile
    done = await _refresh(core, clock, tz="UTC")
    assert done.is_full
    assert [r[0] for r in await _summary_rows(core)] == [date(2026, 10, 1)]
    assert (await _read(core, tz="UTC")).counts == {("spesa", RAVENNA, 23): (1, 1)}
