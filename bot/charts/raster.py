"""The layout painted as a PNG with matplotlib (Agg canvas, no pyplot state): the digest image sent on Telegram and WhatsApp.

One axes covers the whole figure with pixel coordinates (y downwards), so every primitive lands
where the layout put it. Text is DejaVu Sans, the font the layout measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from bot.charts.model import GRID, HATCHES, MARKERS, MUTED, Box, Layout, Marker, Primitive, Stroke, Text, colour

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI: Final = 100
"""Layout pixels per inch; the image is saved at `SCALE` times that, sharp on a phone."""
SCALE: Final = 2
POINTS_PER_PIXEL: Final = 72 / DPI
FONT: Final = "DejaVu Sans"
MPL_MARKERS: Final = {"circle": "o", "square": "s", "diamond": "D", "triangle": "^"}


def figure(layout: Layout) -> Figure:
    """The chart as a matplotlib figure (tests measure its text against the canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(layout.width / DPI, layout.height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_axis_off()
    for item in layout.items:
        _paint(ax, item)
    return fig


def write(layout: Layout, path: Path) -> Path:
    fig = figure(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI * SCALE, facecolor="#ffffff", metadata={"Software": None})
    return path


def _paint(ax: Axes, item: Primitive) -> None:
    from matplotlib.patches import Rectangle

    match item:
        case Text():
            ax.text(
                item.x, item.y, item.text, fontsize=item.size * POINTS_PER_PIXEL, family=FONT,
                ha={"start": "left", "middle": "center", "end": "right"}[item.anchor], va="baseline",
                weight="bold" if item.bold else "normal", style="italic" if item.italic else "normal",
                color=MUTED if item.muted else colour(item.series), parse_math=False,
            )
        case Box(dashed=True):
            ax.add_patch(Rectangle((item.x, item.y), item.width, item.height, fill=False, edgecolor=MUTED, linestyle=(0, (3, 2)), linewidth=1.2 * POINTS_PER_PIXEL))
        case Box():
            hatch = HATCHES[item.series % len(HATCHES)]
            face = "#ffffff" if hatch else colour(item.series)
            ax.add_patch(Rectangle((item.x, item.y), item.width, item.height, facecolor=face, edgecolor=colour(item.series), hatch=hatch or None, linewidth=POINTS_PER_PIXEL))
        case Stroke():
            xs, ys = zip(*item.points, strict=True)
            width = 2.5 if item.series >= 0 else 1.0
            ax.plot(xs, ys, color=GRID if item.grid else colour(item.series), linewidth=width * POINTS_PER_PIXEL, solid_capstyle="butt")
        case Marker():
            shape = MPL_MARKERS[MARKERS[item.series % len(MARKERS)]]
            if item.hollow:
                ax.plot([item.x], [item.y], marker=shape, markersize=7, markerfacecolor="#ffffff", markeredgecolor=MUTED, linestyle="none")
            else:
                ax.plot([item.x], [item.y], marker=shape, markersize=7, color=colour(item.series), markeredgecolor="#ffffff", linestyle="none")
