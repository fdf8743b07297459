"""A line per series over months: a marker shape per series, its name written at the line's end, values at the points.

A suppressed month breaks the line: a hollow marker on the baseline with "< 5" above it, never a
value the reader could take for a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from bot.charts.layout import LABEL_SIZE, PAD, VALUE_SIZE, Canvas, Scale, cell, describe
from bot.charts.model import Chart, Layout, Marker, Stroke, Text
from bot.charts.text import LINE_HEIGHT, text_width, widest, wrap

PLOT: Final = 240.0
NAME_SHARE: Final = 0.22
"""Direct labels at the lines' ends take at most this share of the width, wrapped."""
NAME_GAP: Final = LABEL_SIZE * LINE_HEIGHT


def layout(chart: Chart, width: float) -> Layout:
    canvas = Canvas(width)
    canvas.title(chart.title)
    scale = Scale.over(chart.peak)
    names = [wrap(s.name, canvas.inner * NAME_SHARE, LABEL_SIZE, bold=True) for s in chart.series] if not chart.is_empty else []
    tick_room = max(text_width(cell(chart, t), VALUE_SIZE) for t in scale.ticks) + 8
    x0 = PAD + tick_room
    x1 = canvas.width - PAD - max((widest(n, LABEL_SIZE, bold=True) for n in names), default=0.0) - 12
    frame = _frame(chart, x0, x1)
    top = canvas.y + VALUE_SIZE * LINE_HEIGHT  # room for the values above the highest points
    bottom = frame.bottom = top + PLOT
    for t in scale.ticks:
        y = bottom - scale.at(t, PLOT)
        canvas.items.append(Stroke(((x0, y), (x1, y)), grid=t > 0))
        canvas.items.append(Text(x0 - 6, y + VALUE_SIZE * 0.35, cell(chart, t), VALUE_SIZE, anchor="end", muted=True))
    canvas.items.append(Stroke(((x0, top - 4), (x0, bottom))))
    canvas.y = bottom + 6
    behind = len(canvas.items)  # lines go after the grid, before the markers and values
    tallest = 0.0
    for i, label in enumerate(chart.labels):
        canvas.items.append(Stroke(((frame.x(i), bottom), (frame.x(i), bottom + 4))))
        if frame.shows(i):
            saved = canvas.y
            lines = wrap(label, frame.slot * frame.every - 4, VALUE_SIZE)
            tallest = max(tallest, canvas.lines(lines, frame.x(i), VALUE_SIZE, anchor="middle"))
            canvas.y = saved
    canvas.y += tallest
    if chart.is_empty:
        message = wrap(chart.empty_message, x1 - x0 - 20, LABEL_SIZE)
        for k, line in enumerate(message):
            canvas.items.append(Text((x0 + x1) / 2, top + PLOT / 2 + k * NAME_GAP, line, LABEL_SIZE, anchor="middle"))
    else:
        ends = [_line(canvas, chart, s, frame, scale, behind) for s in range(len(chart.series))]
        _names(canvas, names, ends, x1 + 12, top)
    return Layout(canvas.width, canvas.y + PAD, tuple(canvas.items), chart.title, describe(chart))


@dataclass(slots=True)
class Frame:
    """Where the months go: `slot` pixels each from `x0`; labels and values on every `every`-th one (the last always)."""

    x0: float
    slot: float
    count: int
    every: int
    bottom: float = 0.0

    def x(self, i: int) -> float:
        return self.x0 + self.slot * (i + 0.5)

    def shows(self, i: int) -> bool:
        return (self.count - 1 - i) % self.every == 0


def _frame(chart: Chart, x0: float, x1: float) -> Frame:
    """Months too many for their labels and values side by side show them on every second (third…) month, never overlapping.

    Every month keeps its point and its tick; the `<desc>` and the page's table carry every value.
    """
    slot = (x1 - x0) / max(len(chart.labels), 1)
    words = [text_width(w, VALUE_SIZE) for label in chart.labels for w in label.split()]
    values = [text_width(cell(chart, chart.value(s, i)), VALUE_SIZE) for s in range(len(chart.series)) for i in range(len(chart.labels))]
    needed = max([*words, *values, text_width(chart.suppressed_label, VALUE_SIZE)]) + 6
    return Frame(x0, slot, len(chart.labels), max(1, math.ceil(needed / slot)))


def _line(canvas: Canvas, chart: Chart, s: int, frame: Frame, scale: Scale, behind: int) -> float:
    """Draws series `s` (its line segments at `behind`) and returns the height of its last shown point, where its name goes."""
    bottom = frame.bottom
    run: list[tuple[float, float]] = []
    last = bottom
    above = s % 2 == 0  # even series print their values above the points, odd ones below: two lines rarely collide
    for i in range(len(chart.labels)):
        x, value = frame.x(i), chart.value(s, i)
        if value is None:
            _flush(canvas, run, s, behind)
            run = []
            canvas.items.append(Marker(x, bottom, s, hollow=True))
            if frame.shows(i):
                canvas.items.append(Text(x, bottom - 10, chart.suppressed_label, VALUE_SIZE, anchor="middle", italic=True, muted=True))
            continue
        y = bottom - scale.at(value, PLOT)
        run.append((x, y))
        canvas.items.append(Marker(x, y, s))
        offset = -9.0 if above or value == 0 else 9 + VALUE_SIZE
        if frame.shows(i):
            canvas.items.append(Text(x, y + offset, cell(chart, value), VALUE_SIZE, anchor="middle"))
        last = y
    _flush(canvas, run, s, behind)
    return last


def _flush(canvas: Canvas, run: list[tuple[float, float]], s: int, behind: int) -> None:
    if len(run) > 1:
        canvas.items.insert(behind, Stroke(tuple(run), series=s))


def _names(canvas: Canvas, names: list[list[str]], ends: list[float], x: float, top: float) -> None:
    """Each series' name beside its last point, pushed apart so two names never overlap."""
    order = sorted(range(len(names)), key=lambda s: ends[s])
    y = top - NAME_GAP
    for s in order:
        y = max(y, ends[s] - LABEL_SIZE * 0.35 - LABEL_SIZE)
        for k, line in enumerate(names[s]):
            canvas.items.append(Text(x, y + LABEL_SIZE + k * NAME_GAP, line, LABEL_SIZE, bold=True, series=s))
        y += len(names[s]) * NAME_GAP + 2
    canvas.y = max(canvas.y, y)
