"""The digest chart: needs by category this period and the one before, as a PNG (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from conversations.digest import DigestFigures

WIDTH_INCHES = 8.0
DPI = 100
MAX_BARS = 10


def render_chart(figures: DigestFigures, path: Path, *, title: str, current: str, previous: str) -> Path:
    """Write the chart to `path` and return it; uses the Agg canvas directly, so no display and no global pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = figures.by_category[:MAX_BARS]
    labels = [_short(c.label) for c in rows] or ["—"]
    now = [c.count for c in rows] or [0]
    before = [c.previous for c in rows] or [0]
    height = max(2.5, 0.45 * len(labels) + 1.2)
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(labels)))
    ax.barh([y + 0.2 for y in ys], before, height=0.4, color="#b8c4d6", label=previous)
    ax.barh([y - 0.2 for y in ys], now, height=0.4, color="#1f5fa8", label=current)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
