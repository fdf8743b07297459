"""What every chart shares: the canvas, the wrapped title, the legend, the scale, the words of its description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from babel.numbers import format_decimal

from bot.charts.model import WIDTH, Anchor, Box, Chart, Primitive, Text
from bot.charts.text import LINE_HEIGHT, text_width, wrap

PAD: Final = 16.0
TITLE_SIZE: Final = 18.0
LABEL_SIZE: Final = 13.0
VALUE_SIZE: Final = 12.0
SWATCH: Final = 14.0
MAX_TICKS: Final = 6
_ROUND_STEPS: Final = tuple(m * 10**k for k in range(16) for m in (1, 2, 5))


@dataclass
class Canvas:
    """Primitives drawn so far and the next free line (`y`), top to bottom."""

    width: float = WIDTH
    y: float = PAD
    items: list[Primitive] = field(default_factory=list)

    @property
    def inner(self) -> float:
        return self.width - 2 * PAD

    def lines(self, lines: list[str], x: float, size: float, *, anchor: Anchor = "start", bold: bool = False) -> float:
        """Draws `lines` from the current `y` down and returns the height they took."""
        step = size * LINE_HEIGHT
        for i, line in enumerate(lines):
            self.items.append(Text(x, self.y + size + i * step, line, size, anchor=anchor, bold=bold))
        return step * len(lines)

    def title(self, title: str) -> None:
        self.y += self.lines(wrap(title, self.inner, TITLE_SIZE, bold=True), PAD, TITLE_SIZE, bold=True) + 8

    def legend(self, chart: Chart) -> None:
        """A swatch (with the series' pattern) and the name of each series; a name wider than the row wraps."""
        if len(chart.series) < 2:
            return
        x, row_height = PAD, 0.0
        for i, series in enumerate(chart.series):
            lines = wrap(series.name, self.inner - SWATCH - 6, LABEL_SIZE)
            width = SWATCH + 6 + max(text_width(line, LABEL_SIZE) for line in lines)
            if x > PAD and x + width > self.width - PAD:
                x, self.y, row_height = PAD, self.y + row_height + 4, 0.0
            self.items.append(Box(x, self.y + 2, SWATCH, SWATCH, i))
            saved, height = self.y, self.lines(lines, x + SWATCH + 6, LABEL_SIZE)
            self.y = saved
            x, row_height = x + width + 20, max(row_height, height)
        self.y += row_height + 10


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear scale from 0 to `top`, ticks every `step`."""

    top: int
    step: int

    @classmethod
    def over(cls, peak: int, fits: Callable[[Scale], bool] = lambda _: True) -> Scale:
        """Round steps (1, 2, 5 × 10ⁿ), at most `MAX_TICKS` ticks, the finest whose tick labels `fits` (side by side).

        An empty chart gets 0–5 so its axis still reads; when no step fits, 0 and one round top.
        """
        if peak <= 0:
            return cls(5, 1)
        steps = [s for s in _ROUND_STEPS if -(-peak // s) <= MAX_TICKS - 1]
        scales = [cls(-(-peak // s) * s, s) for s in steps[: next(i for i, s in enumerate(steps) if s >= peak) + 1]]
        return next((s for s in scales if fits(s)), scales[-1])

    @property
    def ticks(self) -> list[int]:
        return list(range(0, self.top + 1, self.step))

    def at(self, value: int, length: float) -> float:
        return value / self.top * length


@lru_cache(maxsize=4096)
def number(value: int, locale: str) -> str:
    """A count as people read it in `locale`: 1.234 in Italian, 1,234 in English (Babel is slow: cached)."""
    return format_decimal(value, locale=locale)


def cell(chart: Chart, value: int | None) -> str:
    """A cell or a tick as printed: the number in the chart's locale, or the suppressed label."""
    return chart.suppressed_label if value is None else number(value, chart.locale)


def describe(chart: Chart) -> str:
    """The chart in words for screen readers (`<desc>`): each label with its values, or the empty message."""
    if chart.is_empty:
        return f"{chart.title}. {chart.empty_message}."
    parts = []
    for i, label in enumerate(chart.labels):
        if len(chart.series) == 1:
            parts.append(f"{label}: {cell(chart, chart.value(0, i))}")
        else:
            values = ", ".join(f"{s.name} {cell(chart, chart.value(k, i))}" for k, s in enumerate(chart.series))
            parts.append(f"{label}: {values}")
    return f"{chart.title}. " + "; ".join(parts) + "."
