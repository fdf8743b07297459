"""The digest chart: needs by category this period and the one before, drawn by `bot.charts` like the public pages' charts."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bot.charts import Chart, Series, png
from conversations.digest import DigestFigures

MAX_BARS: Final = 10


def digest_chart(figures: DigestFigures, *, title: str, current: str, previous: str, empty: str, locale: str = "it") -> Chart:
    """The top `MAX_BARS` categories, this period first; a week with no need is an empty chart with `empty` written on it."""
    rows = figures.by_category[:MAX_BARS]
    return Chart(
        title=title,
        labels=[c.label for c in rows],
        series=[Series(current, [c.count for c in rows]), Series(previous, [c.previous for c in rows])],
        empty_message=empty,
        locale=locale,
    )


def render_chart(figures: DigestFigures, path: Path, *, title: str, current: str, previous: str, empty: str, locale: str = "it") -> Path:
    """Writes the digest chart to `path` as a PNG and returns it."""
    return png(digest_chart(figures, title=title, current=current, previous=previous, empty=empty, locale=locale), path)
