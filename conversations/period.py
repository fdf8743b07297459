"""Periods typed by admins (``7g``, ``mese``, ``2026-11``, ``2026-11-01 2026-11-30``), read in Europe/Rome."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from conversations._text import fold

DEFAULT_DAYS: Final = 30
ROME: Final = ZoneInfo("Europe/Rome")
NAMED: Final = {"oggi": 1, "today": 1, "settimana": 7, "week": 7, "mese": 30, "month": 30, "anno": 365, "year": 365}
_DAYS = re.compile(r"^(\d{1,4})\s*(g|gg|giorni|d|days)$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _day(token: str) -> date | None:
    m = _DAY.match(token)
    if m is None:
        return None
    try:
        if m.group(1):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return date(int(m.group(6)), int(m.group(5)), int(m.group(4)))
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), ROME)


def parse_period(args: Sequence[str], now: datetime) -> tuple[datetime, datetime] | None:
    """[since, until) for what an admin typed after the command; None when it cannot be read.

    Nothing means the last 30 days; one day means that day to now; two days are inclusive.
    """
    words = [w for w in args if fold(w) not in {"da", "a", "al", "dal", "from", "to"}]
    if not words:
        return now - timedelta(days=DEFAULT_DAYS), now
    first = fold(words[0]).replace(" ", "")
    if len(words) == 1:
        if first in NAMED:
            return now - timedelta(days=NAMED[first]), now
        m = _DAYS.match(fold(words[0]))
        if m and 0 < int(m.group(1)) <= 3660:
            return now - timedelta(days=int(m.group(1))), now
        month = _MONTH.match(words[0])
        if month and 1 <= int(month.group(2)) <= 12:
            start = date(int(month.group(1)), int(month.group(2)), 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            return _midnight(start), _midnight(end)
        day = _day(words[0])
        return (_midnight(day), now) if day is not None and _midnight(day) < now else None
    if len(words) == 2:
        start_day, end_day = _day(words[0]), _day(words[1])
        if start_day is None or end_day is None or end_day < start_day:
            return None
        return _midnight(start_day), _midnight(end_day + timedelta(days=1))
    return None
