"""Scheduled work: plain async functions of the `Core` and `now`, and the scheduler that runs them.

Each job writes its run row before it sends, so a restart, a catch-up or a second worker
never sends twice. Jobs take the `Core` from `bot.core`, never from `bot.app`, which builds it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from bot.core import Core
from bot.jobs.leader import run_scheduler


def workers(core: Core) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """The scheduler, when it is on: on PostgreSQL only the elected worker schedules (`leader`); on SQLite it just runs."""
    return [functools.partial(run_scheduler, core)] if core.settings.scheduler.enabled else []
