"""The scheduler: its job table, and the digest catch-up on start (once, across a restart)."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from bot.core import Core
from bot.jobs.scheduler import JOBS, Scheduler
from tests.bot.jobs.test_digest import END, texts_to
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator


async def test_scheduler_table_and_catch_up_on_start(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    with time_machine.travel(clock.now, tick=False):
        for _ in range(2):  # start, stop, start again: the catch-up sends once
            scheduler = Scheduler(core, clock=clock)
            await scheduler.start()
            jobs = {j.id: j for j in scheduler.aps.get_jobs()}
            scheduler.shutdown()
    assert set(jobs) == {*(s.id for s in JOBS), "digest_sync", f"digest:{coop}"}
    assert all(j.coalesce and j.misfire_grace_time == core.settings.scheduler.misfire_grace_seconds for j in jobs.values())
    assert str(jobs[f"digest:{coop}"].trigger.timezone) == "Europe/Rome"
    assert jobs[f"digest:{coop}"].next_run_time == END + timedelta(days=7)  # next Monday, 8:00 in Rome
    assert len(await texts_to(core, "lucia")) == 1
