"""What a cooperative may hold: territory, categories and digest schedule, checked the same way for the import
file (`bot/cli/coops_file.py`) and the chat (`/nuova_cooperativa`, `/modifica_cooperativa`)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

from conversations.comuni import Comune, Gazetteer
from conversations.vocabulary import TerritoryKind

DEFAULT_DIGEST: Final = "0 8 * * mon"
DEFAULT_TIMEZONE: Final = "Europe/Rome"
COOP_SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MAX_COOP_NAME: Final = 120
MAX_TIMEZONE: Final = 40
"""`cooperative.timezone` is VARCHAR(40); the longest IANA name is 32 characters."""
_ISTAT: Final = re.compile(r"^\d{6}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One rejected value: `field` as in the import file, `code` for the chat's msgid, `message` for the file."""

    field: str
    code: str
    value: str
    message: str


def check_cron(expression: str, timezone: str = DEFAULT_TIMEZONE) -> Problem | None:
    """None when APScheduler accepts the five-field crontab."""
    try:
        CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        return Problem(
            "digest",
            "cron",
            expression,
            f"not a crontab expression (minute hour day month weekday, e.g. '0 8 * * mon'): {exc}",
        )
    return None


def timezone_named(name: str) -> str | None:
    """The IANA time zone `name` means, spelled as zoneinfo knows it ("europe/rome" -> "Europe/Rome"); None if unknown."""
    wanted = name.strip()
    if not wanted or len(wanted) > MAX_TIMEZONE:
        return None
    try:
        ZoneInfo(wanted)
    except (ZoneInfoNotFoundError, ValueError):
        return _zones_by_folded_name().get(wanted.casefold())
    return wanted


@cache
def _zones_by_folded_name() -> dict[str, str]:
    # Read once: zoneinfo lists the system's (or the tzdata package's) zones from disk.
    return {zone.casefold(): zone for zone in available_timezones()}


def check_timezone(name: str) -> Problem | None:
    """None when zoneinfo knows the time zone, exactly as written (the import file is exact)."""
    if timezone_named(name) == name:
        return None
    return Problem("timezone", "timezone", name, f"unknown time zone {name!r}, e.g. 'Europe/Rome'")


def check_categories(slugs: Iterable[str], known: Collection[str]) -> list[Problem]:
    """One problem per unknown slug."""
    return [
        Problem("categories", "unknown_category", s, f"unknown category {s!r}; known: {', '.join(sorted(known))}")
        for s in slugs
        if s not in known
    ]


@dataclass(frozen=True, slots=True)
class Resolved:
    """One item of a chat list: a place, a problem, or the comuni an ambiguous name may mean."""

    place: tuple[str, str] | None = None
    problem: Problem | None = None
    choices: tuple[Comune, ...] = ()


class Territory:
    """Checks comuni (ISTAT codes), provinces (two letters) and regions (ISTAT names) against the gazetteer."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self.provinces = {c.province_code.upper() for c in gazetteer}
        self.regions = {r.casefold(): r for r in {c.region for c in gazetteer}}

    def comune(self, code: str) -> tuple[str, Problem | None]:
        code = code.strip()
        if self.gazetteer.get(code) is None:
            return code, Problem("comuni", "unknown_comune", code, f"unknown ISTAT code {code!r} (six digits, e.g. '039014' for Ravenna)")
        return code, None

    def province(self, code: str) -> tuple[str, Problem | None]:
        code = code.strip().upper()
        if code not in self.provinces:
            return code, Problem("province", "unknown_province", code, f"unknown province code {code!r} (two letters, e.g. 'RA')")
        return code, None

    def region(self, name: str) -> tuple[str, Problem | None]:
        found = self.regions.get(" ".join(name.split()).casefold())
        if found is None:
            return name, Problem("regioni", "unknown_region", name, f"unknown region {name!r}, e.g. 'Emilia-Romagna'")
        return found, None

    def check(
        self, *, comuni: Iterable[str] = (), province: Iterable[str] = (), regioni: Iterable[str] = ()
    ) -> tuple[tuple[tuple[str, str], ...], list[Problem]]:
        """The territory as (kind, code) pairs without repeats, and every problem found."""
        found: list[tuple[str, str]] = []
        problems: list[Problem] = []
        for kind, values, check in (
            (TerritoryKind.COMUNE, comuni, self.comune),
            (TerritoryKind.PROVINCIA, province, self.province),
            (TerritoryKind.REGIONE, regioni, self.region),
        ):
            for value in values:
                code, problem = check(value)
                if problem is None:
                    found.append((kind, code))
                else:
                    problems.append(problem)
        return tuple(dict.fromkeys(found)), problems

    def resolve(self, item: str) -> Resolved:
        """One item of a chat list: ``provincia RA``, ``regione Emilia-Romagna``, ``039014`` or a comune's name."""
        words = item.split()
        head, rest = (words[0].casefold(), " ".join(words[1:])) if words else ("", "")
        if head in {"provincia", "prov", "prov.", "province"} and rest:
            code, problem = self.province(rest)
            return Resolved(place=(TerritoryKind.PROVINCIA, code)) if problem is None else Resolved(problem=problem)
        if head in {"regione", "region"} and rest:
            name, problem = self.region(rest)
            return Resolved(place=(TerritoryKind.REGIONE, name)) if problem is None else Resolved(problem=problem)
        if _ISTAT.match(item.strip()):
            code, problem = self.comune(item)
            return Resolved(place=(TerritoryKind.COMUNE, code)) if problem is None else Resolved(problem=problem)
        lookup = self.gazetteer.lookup(item) if words else None
        if lookup is not None and lookup.candidates and lookup.is_exact:
            return Resolved(place=(TerritoryKind.COMUNE, lookup.candidates[0].istat_code))
        if lookup is not None and lookup.candidates:
            return Resolved(choices=lookup.candidates)
        return Resolved(problem=Problem("comuni", "unknown_place", item, f"unknown comune {item!r}"))

    def label(self, kind: str, code: str) -> str:
        """How a territory item reads in a summary: ``Ravenna (039014)``, ``provincia RA``, ``regione Emilia-Romagna``."""
        if kind == TerritoryKind.COMUNE:
            comune = self.gazetteer.get(code)
            return f"{comune.name} ({code})" if comune is not None else code
        return f"{kind} {code}"
