"""A line per series over months: a marker shape per series, its name written at the line's end, values at the points.

A suppressed month breaks the line: a hollow marker on the baseline with "< 5" above it, never a
value the reader could take for a count.
"""

from __future__ import annotations

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
    slot = (x1 - x0) / max(len(chart.labels), 1)
    top = canvas.y + VALUE_SIZE * LINE_HEIGHT  # room for the values above the highest points
    bottom = top + PLOT
    for t in scale.ticks:
        y = bottom - scale.at(t, PLOT)
        canvas.items.append(Stroke(((x0, y), (x1, y)), grid=t > 0))
        canvas.items.append(Text(x0 - 6, y + VALUE_SIZE * 0.35, cell(chart, t), VALUE_SIZE, anchor="end", muted=True))
    canvas.items.append(Stroke(((x0, top - 4), (x0, bottom))))
    canvas.y = bottom + 6
    behind = len(canvas.items)  # lines go after the grid, before the markers and values
    tallest = 0.0
    for i, label in enumerate(chart.labels):
        saved = canvas.y
        tallest = max(tallest, canvas.lines(wrap(label, slot - 4, VALUE_SIZE), x0 + slot * (i + 0.5), VALUE_SIZE, anchor="middle"))
        canvas.y = saved
    canvas.y += tallest
    if chart.is_empty:
        message = wrap(chart.empty_message, x1 - x0 - 20, LABEL_SIZE)
        for k, line in enumerate(message):
            canvas.items.append(Text((x0 + x1) / 2, top + PLOT / 2 + k * NAME_GAP, line, LABEL_SIZE, anchor="middle"))
    else:
        ends = [_line(canvas, chart, s, (x0, slot, bottom), scale, behind) for s in range(len(chart.series))]
        _names(canvas, names, ends, x1 + 12, top)
    return Layout(canvas.width, canvas.y + PAD, tuple(canvas.items), chart.title, describe(chart))


def _line(canvas: Canvas, chart: Chart, s: int, frame: tuple[float, float, float], scale: Scale, behind: int) -> float:
    """Draws series `s` (its line segments at `behind`) and returns the height of its last shown point, where its name goes."""
    x0, slot, bottom = frame
    run: list[tuple[float, float]] = []
    last = bottom
    above = s % 2 == 0  # even series print their values above the points, odd ones below: two lines rarely collide
    for i in range(len(chart.labels)):
        x, value = x0 + slot * (i + 0.5), chart.value(s, i)
        if value is None:
            _flush(canvas, run, s, behind)
            run = []
            canvas.items.append(Marker(x, bottom, s, hollow=True))
            canvas.items.append(Text(x, bottom - 10, chart.suppressed_label, VALUE_SIZE, anchor="middle", italic=True, muted=True))
            continue
        y = bottom - scale.at(value, PLOT)
        run.append((x, y))
        canvas.items.append(Marker(x, y, s))
        offset = -9.0 if above or value == 0 else 9 + VALUE_SIZE
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
