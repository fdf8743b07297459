"""The layout as inline SVG for web pages: no script, `role="img"` named by its `<title>` and `<desc>`, all text escaped."""

from __future__ import annotations

import hashlib
import re
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from bot.charts.model import GRID, HATCHES, MARKERS, MUTED, Box, Chart, Layout, Marker, Primitive, Stroke, Text, colour

FONT: Final = "'Titillium Web', 'DejaVu Sans', Verdana, sans-serif"
"""Bootstrap Italia's face first; text is measured for DejaVu Sans, as wide as any of these, so it fits in all."""
NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters no XML document may hold, even escaped: a category name carrying one must not break the page."""
CSS_CLASS: Final = "ascolto-chart"
"""Pages scale the chart with `.ascolto-chart { max-width: 100%; height: auto; }` (no inline style, for a strict CSP)."""


def render(chart: Chart, layout: Layout) -> str:
    uid = "chart-" + hashlib.sha256(repr(chart).encode()).hexdigest()[:10]  # several charts on one page keep their own ids
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{CSS_CLASS}" viewBox="0 0 {_n(layout.width)} {_n(layout.height)}"'
        f' width="{_n(layout.width)}" height="{_n(layout.height)}" role="img" aria-labelledby="{uid}-title {uid}-desc"'
        f" font-family={quoteattr(FONT)}>"
    )
    parts = [
        head,
        f'<title id="{uid}-title">{_text(layout.title)}</title>',
        f'<desc id="{uid}-desc">{_text(layout.description)}</desc>',
        _patterns(uid, len(chart.series)),
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *(_item(uid, item) for item in layout.items),
        "</svg>",
    ]
    return "\n".join(parts)


def _text(text: str) -> str:
    return escape(NOT_XML.sub("", text))


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _patterns(uid: str, count: int) -> str:
    """One pattern per hatched series: the series' colour on white, lines or dots, 6 px apart."""
    shapes = {
        "///": '<path d="M0 6 L6 0 M-1 1 L1 -1 M5 7 L7 5" stroke="{c}" stroke-width="1.6"/>',
        "xx": '<path d="M0 0 L6 6 M6 0 L0 6" stroke="{c}" stroke-width="1.2"/>',
        "..": '<circle cx="3" cy="3" r="1.4" fill="{c}"/>',
    }
    defs = []
    for s in range(count):
        hatch = HATCHES[s % len(HATCHES)]
        if hatch:
            defs.append(
                f'<pattern id="{uid}-p{s}" patternUnits="userSpaceOnUse" width="6" height="6">'
                f'<rect width="6" height="6" fill="#ffffff"/>{shapes[hatch].format(c=colour(s))}</pattern>'
            )
    return f"<defs>{''.join(defs)}</defs>"


def _fill(uid: str, series: int) -> str:
    return f"url(#{uid}-p{series})" if HATCHES[series % len(HATCHES)] else colour(series)


def _item(uid: str, item: Primitive) -> str:
    match item:
        case Text():
            attrs = f'x="{_n(item.x)}" y="{_n(item.y)}" font-size="{_n(item.size)}"'
            if item.anchor != "start":
                attrs += f' text-anchor="{item.anchor}"'
            if item.bold:
                attrs += ' font-weight="bold"'
            if item.italic:
                attrs += ' font-style="italic"'
            fill = MUTED if item.muted else colour(item.series)
            return f'<text {attrs} fill="{fill}">{_text(item.text)}</text>'
        case Box(dashed=True):
            box = f'x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.width)}" height="{_n(item.height)}"'
            return f'<rect {box} fill="none" stroke="{MUTED}" stroke-width="1.2" stroke-dasharray="3 2"/>'
        case Box():
            box = f'x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.width)}" height="{_n(item.height)}"'
            return f'<rect {box} fill="{_fill(uid, item.series)}" stroke="{colour(item.series)}" stroke-width="1"/>'
        case Stroke():
            points = " ".join(f"{_n(x)},{_n(y)}" for x, y in item.points)
            stroke = GRID if item.grid else colour(item.series)
            width = "2.5" if item.series >= 0 else "1"
            return f'<polyline points="{points}" fill="none" stroke="{stroke}" stroke-width="{width}"/>'
        case Marker():
            return _marker(item)
    raise TypeError(item)  # pragma: no cover - the match covers every primitive


def _marker(m: Marker) -> str:
    style = f'fill="#ffffff" stroke="{MUTED}" stroke-dasharray="2 1.5"' if m.hollow else f'fill="{colour(m.series)}" stroke="#ffffff"'
    x, y = m.x, m.y
    shape = MARKERS[m.series % len(MARKERS)]
    if shape == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="5" {style}/>'
    corners = {
        "square": ((-4.5, -4.5), (4.5, -4.5), (4.5, 4.5), (-4.5, 4.5)),
        "diamond": ((0, -6), (6, 0), (0, 6), (-6, 0)),
        "triangle": ((0, -6), (5.5, 4.5), (-5.5, 4.5)),
    }[shape]
    points = " ".join(f"{_n(x + dx)},{_n(y + dy)}" for dx, dy in corners)
    return f'<polygon points="{points}" {style}/>'
