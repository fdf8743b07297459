"""Charts as accessible inline SVG: horizontal bars, one group per label, suppressed cells written out.

(The `charts` branch owns this file; this is the small working version the public pages use.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import hashlib
from html import escape
from typing import Final

BAR: Final = 14
GAP: Final = 10
LABEL_WIDTH: Final = 260
PLOT_WIDTH: Final = 360
CHAR_WIDTH: Final = 7.2
COLOURS: Final = ("#0066cc", "#5c6f82", "#008055", "#a66300")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int | None]
    """None = suppressed cell, drawn as "< N" not as a bar."""


@dataclass(frozen=True)
class Chart:
    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    suppressed_label: str = "< 5"


def _wrap(text: str, width: float) -> list[str]:
    """Whole words on as many lines as it takes: a title or label is never cut."""
    per_line = max(8, int(width / CHAR_WIDTH))
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def svg(chart: Chart) -> str:
    """The chart as an ``<svg role="img">`` with its `<title>` and a `<desc>` that reads every value."""
    width = LABEL_WIDTH + PLOT_WIDTH + 60
    title_lines = _wrap(chart.title, width - 20)
    top = 20 + 18 * len(title_lines) + 18 * len(chart.series) + 10
    peak = max((v for s in chart.series for v in s.values if v is not None), default=0)
    scale = PLOT_WIDTH / peak if peak else 0.0
    parts: list[str] = []
    desc: list[str] = []
    y = top
    for i, label in enumerate(chart.labels):
        label_lines = _wrap(label, LABEL_WIDTH - 10)
        group = max(len(chart.series) * (BAR + 2), 16 * len(label_lines))
        for k, line in enumerate(label_lines):
            parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 12 + 16 * k}" text-anchor="end">{escape(line)}</text>')
        values = []
        for j, series in enumerate(chart.series):
            value = series.values[i] if i < len(series.values) else None
            by = y + j * (BAR + 2)
            shown = chart.suppressed_label if value is None else str(value)
            values.append(f"{series.name}: {shown}")
            length = 0.0 if value is None else value * scale
            if length > 0:
                parts.append(f'<rect x="{LABEL_WIDTH}" y="{by}" width="{length:.1f}" height="{BAR}" fill="{COLOURS[j % len(COLOURS)]}"/>')
            parts.append(f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{by + BAR - 3}">{escape(shown)}</text>')
        desc.append(f"{label} — {', '.join(values)}")
        y += group + GAP
    if not chart.labels:
        parts.append(f'<text x="{LABEL_WIDTH}" y="{y + 12}">—</text>')
        y += 20
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{top - 4}" x2="{LABEL_WIDTH}" y2="{y}" stroke="#1a1a1a"/>')
    head = [f'<text x="10" y="{22 + 18 * k}" font-weight="bold">{escape(line)}</text>' for k, line in enumerate(title_lines)]
    legend_y = 20 + 18 * len(title_lines)
    legend = [
        f'<rect x="10" y="{legend_y + 18 * j - 10}" width="12" height="12" fill="{COLOURS[j % len(COLOURS)]}"/>'
        f'<text x="28" y="{legend_y + 18 * j}">{escape(s.name)}</text>'
        for j, s in enumerate(chart.series)
    ]
    ref = "c" + hashlib.sha1(repr((chart.title, tuple(chart.labels), tuple(s.name for s in chart.series))).encode()).hexdigest()[:10]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ref}t {ref}d" viewBox="0 0 {width} {y + 10}" '
        f'width="100%" font-family="sans-serif" font-size="13">'
        f'<title id="{ref}t">{escape(chart.title)}</title><desc id="{ref}d">{escape("; ".join(desc))}</desc>'
        + "".join(head + legend + parts)
        + "</svg>"
    )
