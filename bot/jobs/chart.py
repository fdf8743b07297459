"""The digest chart: needs by category this period and the one before, drawn by `bot.charts` like the public pages' charts."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bot.charts import Chart, Series, png
from conversations.digest import TOP, DigestFigures, top_published
from conversations.disclosure import DEFAULT_THRESHOLD

HIDDEN: Final = "n.d."
"""A bar the digest's text does not show either (`< 5`, or hidden so it cannot be worked out from the total)."""


def digest_chart(
    figures: DigestFigures, *, title: str, current: str, previous: str, empty: str, locale: str = "it", threshold: int = DEFAULT_THRESHOLD
) -> Chart:
    """The digest's top categories, this period first, each count as the digest's text publishes it
    (`top_published`); a week with no need is an empty chart with `empty` written on it."""
    rows = figures.by_category[:TOP]
    now = _bars(top_published(tuple(c.count for c in figures.by_category), threshold), len(rows))
    before = _bars(top_published(tuple(c.previous for c in figures.by_category), threshold), len(rows))
    return Chart(
        title=title,
        labels=[c.label for c in rows],
        series=[Series(current, now), Series(previous, before)],
        suppressed_label=HIDDEN,
        empty_message=empty,
        locale=locale,
    )


def _bars(values: tuple[int | str, ...], n: int) -> list[int | None]:
    return [v if isinstance(v, int) else None for v in values[:n]]


def render_chart(
    figures: DigestFigures,
    path: Path,
    *,
    title: str,
    current: str,
    previous: str,
    empty: str,
    locale: str = "it",
    threshold: int = DEFAULT_THRESHOLD,
) -> Path:
    """Writes the digest chart to `path` as a PNG and returns it."""
    chart = digest_chart(figures, title=title, current=current, previous=previous, empty=empty, locale=locale, threshold=threshold)
    return png(chart, path)
