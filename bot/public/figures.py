"""A territory's published figures, read once per period and kept: pages, open data and dossier share them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.demand import Level, PublishedDemand, Territory, publish
from storage import demand

logger = logging.getLogger(__name__)

CACHED: Final = 256
"""Territory × period × language entries kept (a few KB each)."""


@dataclass(frozen=True, slots=True)
class Page:
    territory: Territory
    figures: PublishedDemand
    end_month: date


def last_complete_month(now: datetime, timezone: str) -> date:
    today = now.astimezone(ZoneInfo(timezone)).date()
    return date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)


def parse_month(text: str | None) -> date | None:
    """``2026-11`` → 1 November 2026; anything else → None (the default period)."""
    if not text:
        return None
    try:
        year, month = (int(part) for part in text.split("-", 1))
        return date(year, month, 1)
    except ValueError:
        return None


class Figures:
    """Reads a territory's demand (`storage.demand`), protects it (`conversations.demand.publish`) and caches it.

    A complete past period never changes, so it is kept until evicted; the period that ends with
    the last complete month is read again after `ttl` seconds (late updates: claims, resolutions),
    in the background: readers keep getting the cached figures meanwhile. Only the first reader of
    a territory and period waits for the SQL.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
        timezone: str,
        threshold: int,
        months: int,
        ttl: float,
        other_label: Callable[[str], str],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.timezone = timezone
        self.threshold = threshold
        self.months = months
        self._ttl = ttl
        self._other_label = other_label
        self._cache: OrderedDict[tuple[str, str, date, str], tuple[float, Page | None]] = OrderedDict()
        self._places: tuple[float, dict[str, list[tuple[str, str]]]] | None = None
        self._refreshing: dict[tuple[str, str, date, str], asyncio.Task[None]] = {}

    def default_end(self) -> date:
        return last_complete_month(self._clock(), self.timezone)

    async def page(self, level: Level, code: str, end_month: date | None, language: str) -> Page | None:
        latest = self.default_end()
        end = min(end_month or latest, latest)
        key = (level.value, code, end, language)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            if end == latest and time.monotonic() - hit[0] >= self._ttl and key not in self._refreshing:
                # Stale while revalidating: the reader gets the figures at once, a task reads them again.
                self._refreshing[key] = asyncio.create_task(self._refresh(key, level, code, end, language))
            return hit[1]
        return await self._read(key, level, code, end, language)

    async def settled(self) -> None:
        """Wait for the background refreshes under way (tests, shutdown)."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def _refresh(self, key: tuple[str, str, date, str], level: Level, code: str, end: date, language: str) -> None:
        try:
            await self._read(key, level, code, end, language)
        except Exception:  # the cached figures stay; the next reader after the TTL tries again
            logger.exception("public figures of %s %s: refresh failed", level.value, code)
        finally:
            self._refreshing.pop(key, None)

    async def _read(self, key: tuple[str, str, date, str], level: Level, code: str, end: date, language: str) -> Page | None:
        async with self._sessions() as session:
            found = await demand.territory(session, level, code)
            page = None
            if found is not None:
                raw = await demand.read(
                    session, scope=found[1], end_month=end, months=self.months, timezone=self.timezone, language=language
                )
                page = Page(found[0], publish(raw, threshold=self.threshold, other_label=self._other_label(language)), end)
        self._cache[key] = (time.monotonic(), page)
        while len(self._cache) > CACHED:
            self._cache.popitem(last=False)
        return page

    async def places(self) -> dict[str, list[tuple[str, str]]]:
        """The territories with needs (index, open data, catalogue), read again after `ttl` like the latest period."""
        if self._places is not None and time.monotonic() - self._places[0] < self._ttl:
            return self._places[1]
        async with self._sessions() as session:
            found = {k: list(v) for k, v in (await demand.places(session)).items()}
        self._places = (time.monotonic(), found)
        return found
