"""The demand summary job: recent months every run, every month on the first run of the night; first run soon after start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import update
from sqlmodel import col

from bot.core import Core
from bot.jobs.demand import is_full_due, refresh_demand
from bot.jobs.scheduler import START_DELAY, Scheduler
from conversations.demand import Level, RawDemand
from storage import demand, demand_summary
from storage.db import transaction
from storage.models import Need
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need


async def _province(core: Core) -> RawDemand:
    async with core.sessions() as session:
        found = await demand.territory(session, Level.PROVINCIA, "RA")
        assert found is not None
        return await demand.read(session, scope=found[1], end_month=date(2026, 10, 1), months=12, timezone="Europe/Rome")


async def _claim(core: Core, need_id: str, coop: int, at: datetime) -> None:
    async with transaction(core.sessions) as session:
        await session.execute(update(Need).where(col(Need.id) == need_id).values(claimed_by_cooperative_id=coop, claimed_at=at, updated_at=at))


async def test_a_need_claimed_later_leaves_the_uncovered_demand_at_the_next_refresh(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    recent = await add_need(core, at=datetime(2026, 10, 5, tzinfo=UTC))  # October: one of the recent months
    old = await add_need(core, at=datetime(2026, 3, 5, tzinfo=UTC))  # March: older than the months of every run
    assert await refresh_demand(core, clock()) == 9  # the first run: every month, March to November
    uncovered = {m: u for (_, _, m), (_, u) in (await _province(core)).counts.items()}
    assert uncovered == {23: 1, 16: 1}

    await _claim(core, recent.id, coop, clock())
    await _claim(core, old.id, coop, clock())
    assert {m: u for (_, _, m), (_, u) in (await _province(core)).counts.items()} == {23: 1, 16: 1}  # not refreshed yet

    clock.advance(minutes=15)
    assert await refresh_demand(core, clock()) == demand_summary.RECENT_MONTHS  # September to November
    assert {m: u for (_, _, m), (_, u) in (await _province(core)).counts.items()} == {23: 0, 16: 1}

    clock.now = datetime(2026, 11, 24, 2, 35, tzinfo=UTC)  # 3:35 in Rome, the next day: the nightly run
    assert await refresh_demand(core, clock()) == 9
    assert {m: u for (_, _, m), (_, u) in (await _province(core)).counts.items()} == {23: 0, 16: 0}


async def test_after_downtime_every_month_since_the_last_run_is_recomputed(core: Core, clock: FakeClock) -> None:
    await refresh_demand(core, clock())  # nothing yet: an empty summary that covers up to 23 November
    clock.now = datetime(2027, 4, 2, 10, tzinfo=UTC)  # four months down
    await add_need(core, at=datetime(2026, 12, 10, tzinfo=UTC))
    done = await demand_summary.refresh(core.sessions, now=clock(), timezone="Europe/Rome")  # a run that is not the nightly one
    assert not done.is_full and done.months == 6  # November 2026 to April 2027, more than the last three
    async with core.sessions() as session:
        found = await demand.territory(session, Level.PROVINCIA, "RA")
        assert found is not None
        raw = await demand.read(session, scope=found[1], end_month=date(2027, 3, 1), months=12, timezone="Europe/Rome")
        assert await demand_summary.covers(session, timezone="Europe/Rome", until=datetime(2027, 3, 31, 22, tzinfo=UTC))
    assert raw.counts == {("spesa", RAVENNA, 20): (1, 1)}


def test_the_nightly_run_is_the_first_after_three_in_the_morning() -> None:
    night = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 3:00 in Rome
    assert is_full_due(None, night, "Europe/Rome")
    assert is_full_due(night - timedelta(hours=20), night, "Europe/Rome")
    assert not is_full_due(night - timedelta(hours=20), night - timedelta(minutes=1), "Europe/Rome")  # 2:59
    assert not is_full_due(night, night + timedelta(minutes=15), "Europe/Rome")  # done already tonight


async def test_the_summary_job_runs_every_scan_and_soon_after_start(core: Core, clock: FakeClock) -> None:
    with time_machine.travel(clock.now, tick=False):
        scheduler = Scheduler(core, clock=clock)
        await scheduler.start()
        job = scheduler.aps.get_job("demand_summary")
        scheduler.shutdown()
    assert job is not None and job.next_run_time == clock.now + START_DELAY
    assert job.trigger.interval == timedelta(minutes=core.settings.scheduler.scan_minutes)
