"""A territory's demand: the raw aggregates storage reads, and the protected figures pages publish (pure).

Every figure that leaves this module went through `conversations.disclosure`: the pages, the open
data and the dossier only ever see a `PublishedDemand`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Final

from conversations.digest import EMERGING_PERIODS, Count, change_percent, is_emerging
from conversations.disclosure import DEFAULT_THRESHOLD, Table, protect, roll_up, summary

MONTHS_BACK: Final = 12
"""The previous year's months are read too: the trend compares each month with the same month a year before."""
OTHER_PREFIX: Final = "altri:"


def month_starts(end_month: date, count: int) -> tuple[date, ...]:
    """The first days of `count` months ending with `end_month`'s, oldest first."""
    y, m = end_month.year, end_month.month
    out: list[date] = []
    for _ in range(count):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return tuple(reversed(out))


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_of(instant: datetime, zone: tzinfo) -> date:
    """The local month an instant falls in (31 October 23:30 UTC is November in Rome)."""
    local = instant.astimezone(zone)
    return date(local.year, local.month, 1)


def start_of(month: date, zone: tzinfo) -> datetime:
    """The instant a local month begins."""
    return datetime(month.year, month.month, 1, tzinfo=zone)


class Level(StrEnum):
    """What a public page is about; the code in the URL names it."""

    REGIONE = "regione"
    """The region's name as in the ISTAT list (``Emilia-Romagna``)."""
    PROVINCIA = "provincia"
    """The two-letter province code (``RA``)."""
    COMUNE = "comune"
    """The six-digit ISTAT code, as text (``039014``)."""
    RETE = "rete"
    """A cooperative's slug: the comuni its territory covers."""


@dataclass(frozen=True, slots=True)
class Territory:
    level: Level
    code: str
    name: str
    parent: str = ""
    """The province code of a comune, the region of a province: where a page too small to publish sends you."""


@dataclass(frozen=True, slots=True)
class RawDemand:
    """What `storage.demand.read` counts for one territory, by SQL aggregates.

    `months` are the first days of 2 × `MONTHS_BACK` months, oldest first; `counts` maps
    (category slug, ISTAT code, month index) to (needs, uncovered needs)."""

    months: tuple[date, ...]
    counts: Mapping[tuple[str, str, int], tuple[int, int]]
    categories: Mapping[str, str]
    """slug → label, in page order."""
    comuni: Mapping[str, tuple[str, str]]
    """ISTAT code → (name, province code), for the comuni that have needs."""
    claim: tuple[float | None, int] = (None, 0)
    """Median hours from report to taken in charge, and how many needs it is over."""
    resolve: tuple[float | None, int] = (None, 0)
    satisfaction: tuple[float | None, int] = (None, 0)
    """Mean satisfaction (1-5) and how many answers."""


@dataclass(frozen=True, slots=True)
class Trend:
    label: str
    current: int | None
    previous: int | None
    percent: float | None


@dataclass(frozen=True, slots=True)
class PublishedDemand:
    """A territory's figures after small-count protection: the only thing pages and files read."""

    months: tuple[date, ...]
    by_month: Table
    """Categories × months of the period."""
    previous_by_month: Table
    """Categories × the same months a year before."""
    uncovered: Table
    """Categories × months: needs no cooperative covered, or all declined."""
    by_comune: Table
    """Comuni (small ones summed into their province) × categories, for the whole period."""
    trends: tuple[Trend, ...]
    emerging: tuple[str, ...]
    """Labels of the categories whose last month is emerging (the digest's rule, months as periods)."""
    claim_hours: float | None
    resolve_hours: float | None
    satisfaction: float | None
    threshold: int
    slugs: tuple[str, ...] = field(default=())
    comune_keys: tuple[str, ...] = field(default=())
    """The rows of `by_comune`: an ISTAT code, or ``altri:RA`` for the small comuni of a province summed together."""


def publish(raw: RawDemand, *, threshold: int = DEFAULT_THRESHOLD, other_label: str = "Altri comuni ({province})") -> PublishedDemand:
    """The protected figures of `raw`: every table through `protect`, medians through `summary`."""
    slugs = tuple(raw.categories)
    labels = tuple(raw.categories[s] for s in slugs)
    half = len(raw.months) // 2
    months = raw.months[half:]
    n, unc = _by_category_month(raw, slugs)
    current = [line[half:] for line in n]
    previous = [line[:half] for line in n]
    month_labels = tuple(m.isoformat()[:7] for m in months)
    by_month = protect(labels, month_labels, current, threshold=threshold)
    previous_by_month = protect(labels, tuple(m.isoformat()[:7] for m in raw.months[:half]), previous, threshold=threshold)
    uncovered = protect(labels, month_labels, [line[half:] for line in unc], threshold=threshold)
    trends = tuple(
        Trend(
            label,
            by_month.row_totals[i].value,
            previous_by_month.row_totals[i].value,
            _percent(by_month.row_totals[i].value, previous_by_month.row_totals[i].value),
        )
        for i, label in enumerate(labels)
    )
    emerging = tuple(
        labels[i]
        for i in range(len(slugs))
        if by_month.cells[i][-1].value is not None
        and is_emerging(Count(slugs[i], labels[i], current[i][-1], baseline=sum(n[i][-1 - EMERGING_PERIODS : -1])))
    )
    per_comune: dict[str, list[int]] = {}
    for (slug, istat, month), (count, _) in raw.counts.items():
        if month >= half:
            per_comune.setdefault(istat, [0] * len(slugs))[slugs.index(slug)] += count
    rolled = roll_up(per_comune, lambda code: raw.comuni[code][1], threshold=threshold, other_prefix=OTHER_PREFIX)
    comune_labels = tuple(
        other_label.format(province=key[len(OTHER_PREFIX) :]) if key.startswith(OTHER_PREFIX) else raw.comuni[key][0]
        for key in rolled
    )
    by_comune = protect(comune_labels, labels, list(rolled.values()), threshold=threshold)
    return PublishedDemand(
        months=months,
        by_month=by_month,
        previous_by_month=previous_by_month,
        uncovered=uncovered,
        by_comune=by_comune,
        trends=trends,
        emerging=emerging,
        claim_hours=summary(*raw.claim, threshold=threshold),
        resolve_hours=summary(*raw.resolve, threshold=threshold),
        satisfaction=summary(*raw.satisfaction, threshold=threshold),
        threshold=threshold,
        slugs=slugs,
        comune_keys=tuple(rolled),
    )


def _by_category_month(raw: RawDemand, slugs: tuple[str, ...]) -> tuple[list[list[int]], list[list[int]]]:
    n = [[0] * len(raw.months) for _ in slugs]
    unc = [[0] * len(raw.months) for _ in slugs]
    for (slug, _, month), (count, uncovered) in raw.counts.items():
        i = slugs.index(slug)
        n[i][month] += count
        unc[i][month] += uncovered
    return n, unc


def _percent(current: int | None, previous: int | None) -> float | None:
    if current is None or previous is None:
        return None
    return change_percent(current, previous)
