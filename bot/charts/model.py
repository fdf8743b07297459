"""What a chart says (`Chart`, `Series`) and what a layout draws (`Layout` of `Text`, `Box`, `Stroke`, `Marker`).

The layout is in pixels with y growing downwards, the same for both renderers: the SVG writer
and the PNG painter only translate primitives, so a title wrapped on the web is wrapped the same
way in the digest image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

WIDTH: Final = 800.0
MIN_WIDTH: Final = 240.0
EMPTY_MESSAGE: Final = "Nessuna richiesta in questo periodo"
"""Default of `Chart.empty_message`; callers with a translator pass the `chart.empty` text instead."""

INK: Final = "#1a1a1a"
"""Text and axes: 17.4:1 on white."""
MUTED: Final = "#5d6975"
"""Tick labels and suppressed marks: 5.6:1 on white (AA for text)."""
GRID: Final = "#c5c7c9"
"""Gridlines are decoration: the values are printed, so they need no contrast."""
PALETTE: Final = ("#0066cc", "#a84a00", "#00704a", "#6b3fa0")
"""Series colours, each ≥ 4.5:1 on white (Bootstrap Italia blue 5.6:1, then brown, green, violet)."""
HATCHES: Final = ("", "///", "xx", "..")
"""Series fills beyond the first carry a pattern, so series differ without colour too."""
MARKERS: Final = ("circle", "square", "diamond", "triangle")
"""Trend lines differ by marker shape as well as by colour and a direct label."""


def colour(series: int) -> str:
    """A series' colour; ink for everything that is not a series (`series` < 0)."""
    return PALETTE[series % len(PALETTE)] if series >= 0 else INK


Kind = Literal["bars", "trend"]
Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Series:
    """One series: a value per label; `None` is a suppressed cell (small-count protection), drawn as "< N", not as a bar."""

    name: str
    values: Sequence[int | None]


@dataclass(frozen=True)
class Chart:
    """A chart to draw: `kind` "bars" (horizontal bars per category) or "trend" (a line per series over months)."""

    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    suppressed_label: str = "< 5"
    kind: Kind = "bars"
    empty_message: str = EMPTY_MESSAGE
    locale: str = "it"
    """How numbers are written (Babel): 1.234 in Italian, 1,234 in English."""
    width: float = WIDTH
    """Canvas width in pixels: the SVG scales to its container, so a narrower canvas keeps text larger on a phone."""

    def __post_init__(self) -> None:
        """Refuses what cannot be drawn honestly: a negative count (a bug upstream), an unknown kind, a canvas too narrow to write on."""
        if self.width < MIN_WIDTH:
            raise ValueError(f"a chart needs at least {MIN_WIDTH:g} pixels of width")
        if self.kind not in ("bars", "trend"):
            raise ValueError(f"unknown chart kind {self.kind!r}")
        if any(v is not None and v < 0 for s in self.series for v in s.values):
            raise ValueError("a chart counts: no negative values")

    def value(self, series: int, label: int) -> int | None:
        """The cell, `0` when the series is shorter than the labels (a missing value is nothing, not a secret)."""
        values = self.series[series].values
        return values[label] if label < len(values) else 0

    @property
    def is_empty(self) -> bool:
        """No labels, no series, or every cell zero: there is nothing to draw but an axis and a message."""
        cells = [self.value(s, i) for s in range(len(self.series)) for i in range(len(self.labels))]
        return not cells or all(c == 0 for c in cells)

    @property
    def peak(self) -> int:
        """The largest shown value (suppressed cells are below the threshold, so they never set the scale)."""
        return max((v for s in self.series for v in s.values if v is not None and v > 0), default=0)


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; `y` is its baseline."""

    x: float
    y: float
    text: str
    size: float
    anchor: Anchor = "start"
    bold: bool = False
    italic: bool = False
    muted: bool = False
    series: int = -1
    """A series' direct label is written in the series' colour (each is AA on white)."""


@dataclass(frozen=True, slots=True)
class Box:
    """A bar (`series` ≥ 0), a legend swatch, or a suppressed cell's dashed gap (`dashed`)."""

    x: float
    y: float
    width: float
    height: float
    series: int
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Stroke:
    """A polyline: an axis, a gridline, or a series' trend (`series` ≥ 0)."""

    points: tuple[tuple[float, float], ...]
    series: int = -1
    grid: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    """A trend point; `hollow` marks a suppressed one."""

    x: float
    y: float
    series: int
    hollow: bool = False


Primitive = Text | Box | Stroke | Marker


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything to draw, in order, on a `width` × `height` pixel canvas."""

    width: float
    height: float
    items: tuple[Primitive, ...]
    title: str
    description: str
