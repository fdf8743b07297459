"""Charts for every surface: one layout, drawn as accessible inline SVG (web pages) or as a PNG (the digest image).

`svg(chart)` and `png(chart, path)` lay the chart out once (`bot.charts.bars` or `bot.charts.trend`:
wrapped title and labels measured with `bot.charts.text`, values at the bar ends, suppressed cells
as a marked gap, an empty chart as a clean axis with a message) and hand the same primitives to
`bot.charts.vector` or `bot.charts.raster`. It depends on nothing else in `bot`.
"""

from __future__ import annotations

from pathlib import Path

from bot.charts import bars, raster, trend, vector
from bot.charts.model import EMPTY_MESSAGE, Chart, Layout, Series

__all__ = ["Chart", "EMPTY_MESSAGE", "Layout", "Series", "layout", "png", "svg"]


def layout(chart: Chart) -> Layout:
    """The chart's primitives on a `chart.width`-pixel canvas (its height follows from the wrapped text and the rows)."""
    if chart.kind == "trend":
        return trend.layout(chart, chart.width)
    return bars.layout(chart, chart.width)


def svg(chart: Chart) -> str:
    """Accessible inline SVG: `role="img"`, `aria-labelledby` its `<title>` and `<desc>` (the data in words), no script."""
    return vector.render(chart, layout(chart))


def png(chart: Chart, path: Path) -> Path:
    """Writes the chart as a PNG to `path` (parents created) and returns `path`."""
    return raster.write(layout(chart), path)
