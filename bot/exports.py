"""`/esporta`'s files: the rows `storage.exports` reads, as CSV and XLSX under `var/exports/`."""

from __future__ import annotations

import csv
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

logger = logging.getLogger(__name__)

COLUMNS: Final = ("ticket", "created_at", "category", "comune", "istat", "urgency", "status", "cooperative", "claimed_at", "resolved_at", "satisfaction", "messages")
PERSONAL: Final = ("description", "contact_method", "phone", "latitude", "longitude")
"""Only admins get these: operators see contacts only for needs they claimed, in the chat."""
CSV_TYPE: Final = "text/csv"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS: Final = frozenset("=+-@\t\r＝＋－＠")
"""What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"), full-width forms included."""
LEADING_BLANKS: Final = " \n\u00a0"
"""Spreadsheets skip these before looking for a formula sign."""


def neutralise(value: object) -> object:
    """A citizen's text that a spreadsheet would run as a formula gets a leading ``'`` (text); numbers stay."""
    if isinstance(value, str) and (value[:1] in FORMULA_STARTS or value.lstrip(LEADING_BLANKS)[:1] in FORMULA_STARTS):
        return "'" + value
    return value


def _text_cells(sheet: WriteOnlyWorksheet, line: Sequence[object]) -> list[object]:
    """XLSX cells: every string an explicit string cell with the text format ``@``, never a formula."""
    cells: list[object] = []
    for value in line:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # openpyxl makes "=…" a formula on assignment: force it back to text
            cell.number_format = "@"
            cells.append(cell)
        else:
            cells.append(value)
    return cells


@dataclass(frozen=True, slots=True)
class ExportFiles:
    csv_path: Path
    xlsx_path: Path
    rows: int


def write(folder: Path, stem: str, header: Sequence[str], data: list[list[object]]) -> ExportFiles:
    """Write both files; the folder is created on first use (``var/`` is not in the repository)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    # utf-8-sig: Excel opens accented comuni correctly only with the BOM.
    with csv_path.open("w", newline="", encoding="utf-8-sig") as fp:
        writer = csv.writer(fp)
        writer.writerow(header)
        writer.writerows([neutralise(v) for v in line] for line in data)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("richieste")
    sheet.append(list(header))
    for line in data:
        sheet.append(_text_cells(sheet, line))
    book.save(xlsx_path)
    logger.info("export %s written: %s row(s)", stem, len(data))
    return ExportFiles(csv_path, xlsx_path, len(data))


def forget(folder: Path, tickets: Collection[str]) -> int:
    """Delete the exports listing any of `tickets` (an erased citizen's needs), CSV and XLSX; returns how many files.

    The CSV names every need by its ticket; its XLSX twin has the same stem and the same rows.
    """
    if not tickets or not folder.is_dir():
        return 0
    removed = 0
    for csv_path in folder.glob("richieste-*.csv"):
        text = csv_path.read_text(encoding="utf-8-sig", errors="replace")
        if any(ticket in text for ticket in tickets):
            for path in (csv_path, csv_path.with_suffix(".xlsx")):
                if path.is_file():
                    path.unlink()
                    removed += 1
    if removed:
        logger.info("erasure: %s export file(s) deleted", removed)
    return removed


def header(include_personal: bool) -> tuple[str, ...]:
    return COLUMNS + PERSONAL if include_personal else COLUMNS
