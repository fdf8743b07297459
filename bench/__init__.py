"""Benchmarks (`make bench`): each one returns rows, and `python -m bench` prints them as one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure, e.g. ``Row("telegram", "bare PTB echo bot", 812.4, "updates/s")``."""

    benchmark: str
    measure: str
    value: float
    unit: str
    detail: str = ""


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table, one row a figure, as pasted into docs/performance.md."""
    header = ("benchmark", "measure", "value", "unit", "detail")
    cells = [header] + [(r.benchmark, r.measure, f"{r.value:,.2f}", r.unit, r.detail) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        padded = [c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("| " + " | ".join(padded) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) if i != 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)
