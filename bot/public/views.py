"""What the templates show: protected tables as rows of text, and their charts (`bot.charts`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.charts import Chart, Series, svg
from conversations.demand import PublishedDemand
from conversations.disclosure import Cell, Hidden, Table, shown

Text = Callable[..., str]
"""``t("public.title", name=…)``: a msgid and its placeholders in the page's language."""


@dataclass(frozen=True, slots=True)
class TableView:
    caption: str
    corner: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]
    """(row label, its cells and total as text)."""
    footer: tuple[str, ...]
    links: tuple[str | None, ...] = ()


def month_label(day: date, language: str) -> str:
    return format_date(day, "MMM y", locale=language)


def period_label(months: Sequence[date], language: str) -> str:
    return f"{format_date(months[0], 'MMMM y', locale=language)} – {format_date(months[-1], 'MMMM y', locale=language)}"


def number(value: float, language: str) -> str:
    return format_decimal(round(value, 1), locale=language)


def _cell(cell: Cell, threshold: int, language: str) -> str:
    return format_decimal(cell.value, locale=language) if cell.value is not None else shown(cell, threshold=threshold)


def table_view(table: Table, *, caption: str, corner: str, columns: Sequence[str], total: str, language: str) -> TableView:
    """A protected table with its totals; hidden cells read "< 5" or "n.d."."""
    th = table.threshold
    rows = tuple(
        (label, (*(_cell(c, th, language) for c in table.cells[i]), _cell(table.row_totals[i], th, language)))
        for i, label in enumerate(table.rows)
    )
    footer = (*(_cell(c, th, language) for c in table.column_totals), _cell(table.total, th, language))
    return TableView(caption, corner, (*columns, total), rows, footer)


def suppressed_label(cells: Sequence[Cell], threshold: int) -> str:
    """A chart has one word for its hidden bars: "< 5" when every one is small, else "n.d."."""
    return "n.d." if any(c.hidden is Hidden.COMPLEMENT for c in cells) else f"< {threshold}"


def category_chart(figures: PublishedDemand, *, title: str, current: str, previous: str) -> str:
    """Needs by category in the period against the same months a year before."""
    now, before = figures.by_month.row_totals, figures.previous_by_month.row_totals
    return svg(
        Chart(
            title=title,
            labels=figures.by_month.rows,
            series=(Series(current, [c.value for c in now]), Series(previous, [c.value for c in before])),
            suppressed_label=suppressed_label((*now, *before), figures.threshold),
        )
    )


def month_chart(figures: PublishedDemand, *, title: str, series: str, language: str) -> str:
    totals = figures.by_month.column_totals
    return svg(
        Chart(
            title=title,
            labels=[month_label(m, language) for m in figures.months],
            series=(Series(series, [c.value for c in totals]),),
            suppressed_label=suppressed_label(totals, figures.threshold),
        )
    )


def uncovered_chart(figures: PublishedDemand, *, title: str, series: str) -> str:
    totals = figures.uncovered.row_totals
    return svg(
        Chart(
            title=title,
            labels=figures.uncovered.rows,
            series=(Series(series, [c.value for c in totals]),),
            suppressed_label=suppressed_label(totals, figures.threshold),
        )
    )


def trend_rows(figures: PublishedDemand, language: str) -> list[tuple[str, str, str, str]]:
    """Category, this period, the same months a year before, and the change (– when either is hidden or was zero)."""
    th = figures.threshold
    rows = []
    for i, trend in enumerate(figures.trends):
        change = "–" if trend.percent is None else f"{'+' if trend.percent > 0 else ''}{number(trend.percent, language)}%"
        rows.append(
            (trend.label, _cell(figures.by_month.row_totals[i], th, language), _cell(figures.previous_by_month.row_totals[i], th, language), change)
        )
    return rows
