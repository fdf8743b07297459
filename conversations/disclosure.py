"""Small-count protection: the one place every published figure goes through (pure).

A table of counts (rows × columns, with its row, column and grand totals) is published with

- **primary suppression**: a count above zero and under the threshold (default 5) is hidden and
  shown as "< 5";
- **secondary suppression**: every row and every column (totals included) is an equation
  ``cells = total``; an equation with exactly one hidden entry would give that entry away, so one
  more entry of it is hidden (the smallest count above zero that is still shown), until no
  equation has exactly one hidden entry;
- **roll-up**: comuni with fewer needs than the threshold in the period are summed into "other
  comuni of the province" before the table is built (`roll_up`).

Zeros are published: a zero says nothing about a person. Medians and means are published only
when at least `threshold` needs stand behind them (`summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

DEFAULT_THRESHOLD: Final = 5
"""Italy's statistical rules require at least 3; social-care needs warrant more."""
MIN_THRESHOLD: Final = 3


class Hidden(StrEnum):
    """Why a published cell shows no number."""

    SMALL = "small"
    """Primary: fewer than the threshold (shown as "< 5")."""
    COMPLEMENT = "complement"
    """Secondary: shown would let a small one be computed from the totals (shown as "n.d.")."""


@dataclass(frozen=True, slots=True)
class Cell:
    """A published figure: its value, or None with the reason it is hidden."""

    value: int | None
    hidden: Hidden | None = None

    @property
    def is_hidden(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class Table:
    """A protected two-way table: `cells[r][c]`, `row_totals[r]`, `column_totals[c]`, `total`."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[Cell, ...], ...]
    row_totals: tuple[Cell, ...]
    column_totals: tuple[Cell, ...]
    total: Cell
    threshold: int

    def row_values(self, r: int) -> tuple[int | None, ...]:
        return tuple(c.value for c in self.cells[r])

    def column_values(self, c: int) -> tuple[int | None, ...]:
        return tuple(row[c].value for row in self.cells)


def protect(
    rows: Sequence[str], columns: Sequence[str], counts: Sequence[Sequence[int]], *, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    """The table of `counts` (one list per row) with every suppression applied."""
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"threshold {threshold} is under the minimum of {MIN_THRESHOLD}")
    n_rows, n_cols = len(rows), len(columns)
    if len(counts) != n_rows or any(len(line) != n_cols for line in counts):
        raise ValueError("counts must have one list per row and one count per column")
    # The full grid with margins: row n_rows holds the column totals, column n_cols the row totals.
    grid = [[int(v) for v in line] + [sum(line)] for line in counts]
    grid.append([sum(grid[r][c] for r in range(n_rows)) for c in range(n_cols + 1)])
    hidden: dict[tuple[int, int], Hidden] = {
        (r, c): Hidden.SMALL for r in range(n_rows + 1) for c in range(n_cols + 1) if 0 < grid[r][c] < threshold
    }
    lines = [[(r, c) for c in range(n_cols + 1)] for r in range(n_rows + 1)]
    lines += [[(r, c) for r in range(n_rows + 1)] for c in range(n_cols + 1)]

    def exposed(line: list[tuple[int, int]]) -> bool:
        return sum(1 for key in line if key in hidden) == 1

    def choice(key: tuple[int, int], along_row: bool) -> tuple[int, int, tuple[int, int]]:
        """Prefer an entry whose other line also gives one away (one complement mends both), then the smallest."""
        r, c = key
        other = lines[n_rows + 1 + c] if along_row else lines[r]
        return (0 if exposed(other) else 1, grid[r][c], key)

    changed = True
    while changed:
        changed = False
        for index, line in enumerate(lines):
            if not exposed(line):
                continue
            shown = [key for key in line if key not in hidden and grid[key[0]][key[1]] > 0]
            if not shown:  # every other entry is a published zero: the hidden one is zero too, never hidden
                continue
            along_row = index <= n_rows
            hidden[min(shown, key=lambda k: choice(k, along_row))] = Hidden.COMPLEMENT
            changed = True

    def cell(r: int, c: int) -> Cell:
        reason = hidden.get((r, c))
        return Cell(None, reason) if reason is not None else Cell(grid[r][c])

    return Table(
        rows=tuple(rows),
        columns=tuple(columns),
        cells=tuple(tuple(cell(r, c) for c in range(n_cols)) for r in range(n_rows)),
        row_totals=tuple(cell(r, n_cols) for r in range(n_rows)),
        column_totals=tuple(cell(n_rows, c) for c in range(n_cols)),
        total=cell(n_rows, n_cols),
        threshold=threshold,
    )


def protect_counts(labels: Sequence[str], counts: Sequence[int], *, threshold: int = DEFAULT_THRESHOLD) -> Table:
    """A one-way breakdown (labels and their total) as a one-column table."""
    return protect(labels, ("n",), [[n] for n in counts], threshold=threshold)


def shown(cell: Cell, *, threshold: int) -> str:
    """A cell as text: ``12``, ``< 5`` (too few) or ``n.d.`` (hidden to protect another)."""
    if cell.value is not None:
        return str(cell.value)
    return f"< {threshold}" if cell.hidden is Hidden.SMALL else "n.d."


def summary(value: float | None, count: int, *, threshold: int = DEFAULT_THRESHOLD) -> float | None:
    """A median or mean is published only when at least `threshold` needs stand behind it."""
    return value if value is not None and count >= threshold else None


def roll_up(
    counts: Mapping[str, Sequence[int]],
    province_of: Callable[[str], str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    other_prefix: str = "altri:",
) -> dict[str, list[int]]:
    """Comuni (ISTAT code → counts by column) with fewer than `threshold` needs in all are summed into
    ``other_prefix + province``; the others keep their own row. Order: kept comuni, then the roll-ups."""
    kept: dict[str, list[int]] = {}
    others: dict[str, list[int]] = {}
    for code, line in counts.items():
        if sum(line) >= threshold:
            kept[code] = list(line)
            continue
        key = other_prefix + province_of(code)
        bucket = others.setdefault(key, [0] * len(line))
        for i, v in enumerate(line):
            bucket[i] += v
    return {**kept, **others}


def is_small(total: int, *, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """A territory with fewer needs than the threshold gets no page of its own: it is read in its province."""
    return total < threshold
