"""Horizontal bars, one group per category: wrapped labels on the left, the value printed at each bar's end."""

from __future__ import annotations

from typing import Final

from bot.charts.layout import LABEL_SIZE, PAD, VALUE_SIZE, Canvas, Scale, cell, describe
from bot.charts.model import Box, Chart, Layout, Stroke, Text
from bot.charts.text import LINE_HEIGHT, text_width, widest, wrap

BAR: Final = 16.0
BAR_GAP: Final = 3.0
ROW_GAP: Final = 12.0
LABEL_SHARE: Final = 0.38
"""Labels take at most this share of the width; longer ones wrap over more lines instead of being cut."""
GUTTER: Final = 10.0
GAP_MARK: Final = 14.0
"""Width of the dashed gap that stands for a suppressed cell."""
EMPTY_PLOT: Final = 96.0


def layout(chart: Chart, width: float) -> Layout:
    canvas = Canvas(width)
    canvas.title(chart.title)
    if chart.is_empty:
        _empty(canvas, chart)
    else:
        canvas.legend(chart)
        _rows(canvas, chart)
    return Layout(canvas.width, canvas.y + PAD, tuple(canvas.items), chart.title, describe(chart))


def _rows(canvas: Canvas, chart: Chart) -> None:
    labels = [wrap(label, canvas.inner * LABEL_SHARE, LABEL_SIZE) for label in chart.labels]
    label_width = max(widest(lines, LABEL_SIZE) for lines in labels)
    texts = [cell(chart, chart.value(s, i)) for s in range(len(chart.series)) for i in range(len(chart.labels))]
    value_room = max(text_width(t, VALUE_SIZE) for t in texts) + 6
    x0 = PAD + label_width + GUTTER
    length = canvas.width - PAD - value_room - x0
    scale = Scale.over(chart.peak, lambda s: all(length / len(s.ticks) >= text_width(cell(chart, t), VALUE_SIZE) + 8 for t in s.ticks))
    top = canvas.y
    group = len(chart.series) * (BAR + BAR_GAP) - BAR_GAP
    for i, lines in enumerate(labels):
        row = max(group, len(lines) * LABEL_SIZE * LINE_HEIGHT)
        saved = canvas.y
        canvas.y += (row - len(lines) * LABEL_SIZE * LINE_HEIGHT) / 2
        canvas.lines(lines, PAD, LABEL_SIZE)
        canvas.y = saved
        y = canvas.y + (row - group) / 2
        for s in range(len(chart.series)):
            _bar(canvas, chart, chart.value(s, i), s, x0, y, length, scale)
            y += BAR + BAR_GAP
        canvas.y += row + ROW_GAP
    _axis(canvas, chart, scale, x0, top, length)


def _bar(canvas: Canvas, chart: Chart, value: int | None, series: int, x0: float, y: float, length: float, scale: Scale) -> None:
    baseline = y + BAR / 2 + VALUE_SIZE * 0.35
    if value is None:
        canvas.items.append(Box(x0, y, GAP_MARK, BAR, series, dashed=True))
        canvas.items.append(Text(x0 + GAP_MARK + 4, baseline, chart.suppressed_label, VALUE_SIZE, italic=True, muted=True))
        return
    end = scale.at(value, length)
    if value > 0:
        canvas.items.append(Box(x0, y, max(end, 1.0), BAR, series))
    canvas.items.append(Text(x0 + end + 4, baseline, cell(chart, value), VALUE_SIZE))


def _axis(canvas: Canvas, chart: Chart, scale: Scale, x0: float, top: float, length: float) -> None:
    """Gridlines behind the bars, the baseline at 0, and the tick values under the rows."""
    bottom = canvas.y - ROW_GAP / 2
    grid = [Stroke(((x0 + scale.at(t, length), top), (x0 + scale.at(t, length), bottom)), grid=True) for t in scale.ticks[1:]]
    canvas.items[:0] = grid  # drawn first, so bars cover them
    canvas.items.append(Stroke(((x0, top - 4), (x0, bottom))))
    canvas.items.append(Stroke(((x0, bottom), (x0 + length, bottom))))
    for t in scale.ticks:
        canvas.items.append(Text(x0 + scale.at(t, length), bottom + 4 + VALUE_SIZE, cell(chart, t), VALUE_SIZE, anchor="middle", muted=True))
    canvas.y = bottom + 4 + VALUE_SIZE * LINE_HEIGHT


def _empty(canvas: Canvas, chart: Chart) -> None:
    """A clean 0–5 axis and the message in the middle of the plot: no bar, no NaN, nothing negative."""
    x0 = PAD + GUTTER
    length = canvas.inner - 2 * GUTTER
    top = canvas.y
    message = wrap(chart.empty_message, length - 2 * GUTTER, LABEL_SIZE)
    canvas.y += (EMPTY_PLOT - len(message) * LABEL_SIZE * LINE_HEIGHT) / 2
    canvas.lines(message, x0 + length / 2, LABEL_SIZE, anchor="middle")
    canvas.y = top + EMPTY_PLOT + ROW_GAP / 2
    _axis(canvas, chart, Scale.over(0), x0, top, length)
