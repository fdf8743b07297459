"""Small-count protection: no published count under the threshold, no hidden count recoverable from totals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.disclosure import Cell, Hidden, Table, is_small, protect, protect_counts, roll_up, shown, summary


def _entries(table: Table) -> list[list[Cell]]:
    """The table with its margins as equations: each row (cells + row total), each column (cells + column total)."""
    lines = [[*table.cells[r], table.row_totals[r]] for r in range(len(table.rows))]
    lines.append([*table.column_totals, table.total])
    for c in range(len(table.columns)):
        lines.append([*(row[c] for row in table.cells), table.column_totals[c]])
    lines.append([*table.row_totals, table.total])
    return lines


def _all_cells(table: Table) -> list[Cell]:
    return [c for line in table.cells for c in line] + [*table.row_totals, *table.column_totals, table.total]


counts_tables = st.integers(1, 6).flatmap(
    lambda rows: st.integers(1, 6).flatmap(
        lambda cols: st.lists(
            st.lists(st.one_of(st.integers(0, 6), st.integers(0, 60)), min_size=cols, max_size=cols),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(counts=counts_tables, threshold=st.integers(3, 10))
def test_no_published_cell_other_than_zero_is_below_the_threshold(counts: list[list[int]], threshold: int) -> None:
    table = protect([f"r{i}" for i in range(len(counts))], [f"c{j}" for j in range(len(counts[0]))], counts, threshold=threshold)
    for cell in _all_cells(table):
        assert cell.value is None or cell.value == 0 or cell.value >= threshold


@settings(max_examples=400, deadline=None)
@given(counts=counts_tables, threshold=st.integers(3, 10))
def test_no_hidden_cell_can_be_derived_from_its_row_and_column_totals(counts: list[list[int]], threshold: int) -> None:
    table = protect([f"r{i}" for i in range(len(counts))], [f"c{j}" for j in range(len(counts[0]))], counts, threshold=threshold)
    for line in _entries(table):
        assert sum(c.is_hidden for c in line) != 1, line


@settings(max_examples=200, deadline=None)
@given(counts=counts_tables)
def test_what_is_published_is_the_true_count(counts: list[list[int]]) -> None:
    table = protect([f"r{i}" for i in range(len(counts))], [f"c{j}" for j in range(len(counts[0]))], counts)
    for r, line in enumerate(counts):
        for c, n in enumerate(line):
            assert table.cells[r][c].value in (None, n)
        assert table.row_totals[r].value in (None, sum(line))


def test_a_small_count_is_shown_as_under_five_and_its_complement_as_not_available() -> None:
    table = protect(["spesa", "compagnia"], ["gen", "feb"], [[3, 10], [7, 12]])
    assert shown(table.cells[0][0], threshold=5) == "< 5"
    assert table.cells[0][0].hidden is Hidden.SMALL
    # 3 + 10 = 13 and 3 + 7 = 10 are published: the 10 and the 7 must go too, and then the 12.
    assert table.cells[0][1].hidden is Hidden.COMPLEMENT and table.cells[1][0].hidden is Hidden.COMPLEMENT
    assert shown(table.cells[0][1], threshold=5) == "n.d."
    assert table.row_totals[0].value == 13 and table.column_totals[0].value == 10 and table.total.value == 32


def test_zeros_are_published_and_a_table_of_large_counts_is_untouched() -> None:
    table = protect(["a", "b"], ["x", "y"], [[0, 10], [6, 8]])
    assert [[c.value for c in line] for line in table.cells] == [[0, 10], [6, 8]]


def test_a_one_way_breakdown_hides_a_small_count_and_one_more() -> None:
    table = protect_counts(["spesa", "compagnia", "casa"], [40, 2, 9])
    assert [c.value for c in table.row_totals] == [40, None, None]
    assert table.total.value == 51


def test_a_threshold_under_three_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum"):
        protect(["a"], ["b"], [[1]], threshold=2)


def test_small_comuni_roll_up_to_their_province() -> None:
    rolled = roll_up({"039014": [10, 3], "039001": [1, 1], "039002": [2, 0], "040001": [0, 1]}, lambda code: {"039": "RA", "040": "FC"}[code[:3]])
    assert rolled == {"039014": [10, 3], "altri:RA": [3, 1], "altri:FC": [0, 1]}
    assert is_small(4) and not is_small(5)


def test_a_median_behind_too_few_needs_is_not_published() -> None:
    assert summary(12.5, 4) is None
    assert summary(12.5, 5) == 12.5
