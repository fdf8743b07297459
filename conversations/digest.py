"""The cooperative digest: its figures as values, the emerging-needs rule, and its text (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from conversations.disclosure import DEFAULT_THRESHOLD, protect_counts, shown
from conversations.messages import Msg, Reply

EMERGING_FACTOR: Final = 2.0
"""A key is emerging when this period's count is at least this many times its recent mean..."""
EMERGING_MIN_COUNT: Final = 3
"""...and at least this many needs: two needs where there were none is noise, not a trend."""
EMERGING_PERIODS: Final = 4
"""The recent mean is over this many periods before the current one (of the same length)."""
TOP: Final = 8
"""Rows shown per breakdown; the rest are summed into "altro"."""


@dataclass(frozen=True, slots=True)
class Count:
    """One row of a breakdown: ``Count("spesa", "Spesa e beni…", 12, previous=7)``."""

    key: str
    label: str
    count: int
    previous: int = 0
    baseline: int = 0
    """Needs with this key in the `EMERGING_PERIODS` periods before this one (for the emerging rule)."""


@dataclass(frozen=True, slots=True)
class OpenNeed:
    ticket: str
    category: str
    comune: str
    urgency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DigestFigures:
    """Everything a digest says, computed by SQL aggregates in `storage/digests.py`."""

    cooperative: str
    period_start: datetime
    period_end: datetime
    total: int
    previous_total: int
    by_category: tuple[Count, ...]
    by_urgency: tuple[Count, ...]
    by_comune: tuple[Count, ...]
    unclaimed: int
    oldest_open: tuple[OpenNeed, ...]
    median_claim_hours: float | None
    median_resolve_hours: float | None


def is_emerging(count: Count) -> bool:
    """≥ `EMERGING_MIN_COUNT` needs and ≥ `EMERGING_FACTOR` × the mean of the previous `EMERGING_PERIODS` periods."""
    mean = count.baseline / EMERGING_PERIODS
    return count.count >= EMERGING_MIN_COUNT and count.count >= EMERGING_FACTOR * mean


def emerging(figures: DigestFigures) -> tuple[Count, ...]:
    return tuple(c for c in (*figures.by_category, *figures.by_comune) if is_emerging(c))


def change_percent(current: int, previous: int) -> float | None:
    """+50.0 for 12 after 8; None when there was nothing before (a percentage of zero means nothing)."""
    if previous == 0:
        return None
    return round((current - previous) * 100 / previous, 1)


def published(counts: tuple[int, ...], threshold: int) -> tuple[int | str, ...]:
    """A breakdown that sums to the total, through `conversations.disclosure`: ``(12, "< 5", "n.d.")``;
    the last entry is the total. The digest may be forwarded to the cooperative's partners."""
    table = protect_counts([str(i) for i in range(len(counts))], counts, threshold=threshold)
    cells = (*table.row_totals, table.total)
    return tuple(c.value if c.value is not None else shown(c, threshold=threshold) for c in cells)


def render(figures: DigestFigures, *, local_start: date, local_end: date, threshold: int = DEFAULT_THRESHOLD) -> Reply:
    """The digest as one message; `local_*` are the period's days in the cooperative's time zone.

    Every count of a breakdown goes through small-count protection (`published`); the list of the
    oldest open requests is the cooperative's own work and keeps its tickets."""
    change = change_percent(figures.total, figures.previous_total)
    total = published((figures.total,), threshold)[-1]
    trend: Msg
    if 0 < figures.previous_total < threshold or 0 < figures.total < threshold:
        trend = Msg("digest.trend_few", {"threshold": threshold})
    elif change is None:
        trend = Msg("digest.trend_new", {"previous": figures.previous_total})
    elif change > 0:
        trend = Msg("digest.trend_up", {"percent": change, "previous": figures.previous_total})
    elif change < 0:
        trend = Msg("digest.trend_down", {"percent": -change, "previous": figures.previous_total})
    else:
        trend = Msg("digest.trend_same", {"previous": figures.previous_total})
    if figures.total == 0:
        body: tuple[Msg, ...] = (Msg("digest.no_needs"),)
    else:
        body = (
            Msg("digest.section", {"title": Msg("digest.by_category"), "lines": _lines(figures.by_category, threshold)}),
            Msg("digest.section", {"title": Msg("digest.by_urgency"), "lines": _urgency_lines(figures.by_urgency, threshold)}),
            Msg("digest.section", {"title": Msg("digest.by_comune"), "lines": _lines(figures.by_comune, threshold)}),
        )
    visible = _visible(figures.by_category, threshold) | _visible(figures.by_comune, threshold)
    rising = tuple(c for c in emerging(figures) if c.key in visible)  # never a count the breakdown hides
    extra: list[Msg] = []
    if rising:
        extra.append(
            Msg(
                "digest.section",
                {
                    "title": Msg("digest.emerging"),
                    "lines": tuple(
                        Msg("digest.emerging_line", {"label": c.label, "count": c.count, "mean": c.baseline / EMERGING_PERIODS})
                        for c in rising
                    ),
                },
            )
        )
    extra.append(Msg("digest.unclaimed", {"count": figures.unclaimed}))
    if figures.oldest_open:
        extra.append(
            Msg(
                "digest.section",
                {
                    "title": Msg("digest.oldest"),
                    "lines": tuple(
                        Msg(
                            "digest.oldest_line",
                            {
                                "ticket": n.ticket,
                                "category": n.category,
                                "comune": n.comune,
                                "urgency": Msg(f"urgency.{n.urgency}"),
                                "date": n.created_at,
                            },
                        )
                        for n in figures.oldest_open
                    ),
                },
            )
        )
    extra.append(_median("digest.median_claim", figures.median_claim_hours))
    extra.append(_median("digest.median_resolve", figures.median_resolve_hours))
    return Reply(
        Msg(
            "digest.text",
            {
                "cooperative": figures.cooperative,
                "start": local_start,
                "end": local_end,
                "total": total,
                "trend": trend,
                "body": body,
                "extra": tuple(extra),
            },
        )
    )


def _median(msgid: str, hours: float | None) -> Msg:
    if hours is None:
        return Msg(f"{msgid}_none")
    if hours < 48:
        return Msg(msgid, {"value": Msg("digest.hours", {"hours": round(hours, 1)})})
    return Msg(msgid, {"value": Msg("digest.days", {"days": round(hours / 24, 1)})})


def _visible(counts: tuple[Count, ...], threshold: int) -> set[str]:
    """The keys whose count a breakdown publishes as a number."""
    rest = sum(c.count for c in counts[TOP:])
    values = published(tuple(c.count for c in counts[:TOP]) + ((rest,) if rest else ()), threshold)
    return {c.key for c, v in zip(counts[:TOP], values, strict=False) if isinstance(v, int)}


def top_published(counts: tuple[int, ...], threshold: int) -> tuple[int | str, ...]:
    """The first `TOP` counts as the digest publishes them, then the rest summed into one entry (when
    there is a rest), then the total: the message and its chart publish this one table, so a count
    hidden in one is hidden in the other."""
    rest = sum(counts[TOP:])
    return published(counts[:TOP] + ((rest,) if rest else ()), threshold)


def _lines(counts: tuple[Count, ...], threshold: int) -> tuple[Msg, ...]:
    shown_rows = counts[:TOP]
    rest = sum(c.count for c in counts[TOP:])
    values = top_published(tuple(c.count for c in counts), threshold)
    lines = tuple(Msg("digest.line", {"label": c.label, "count": v}) for c, v in zip(shown_rows, values, strict=False))
    return lines + ((Msg("digest.line_rest", {"count": values[len(shown_rows)]}),) if rest else ())


def _urgency_lines(counts: tuple[Count, ...], threshold: int) -> tuple[Msg, ...]:
    values = published(tuple(c.count for c in counts), threshold)
    return tuple(Msg("digest.line", {"label": Msg(f"urgency.{c.key}"), "count": v}) for c, v in zip(counts, values, strict=False))
