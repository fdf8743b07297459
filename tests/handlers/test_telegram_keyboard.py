"""Inline keyboards: one button a row, callback_data within 64 bytes, carrying the conversation version."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.telegram_keyboard import (
    MAX_CALLBACK_DATA_BYTES,
    ButtonPress,
    callback_data,
    keyboard_json,
    parse_callback,
    render_keyboard,
)


def test_options_become_one_button_a_row_with_versioned_data() -> None:
    markup = render_keyboard((("nuovo", "Segnalare un bisogno"), ("miei", "Vedere le mie richieste")), 12)
    assert markup is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [[("Segnalare un bisogno", "v12|nuovo")], [("Vedere le mie richieste", "v12|miei")]]


def test_no_options_no_keyboard() -> None:
    assert render_keyboard((), 3) is None


def test_a_blank_label_shows_the_payload() -> None:
    markup = render_keyboard((("si", "  "),), 1)
    assert markup is not None and markup.inline_keyboard[0][0].text == "si"


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=70), st.text(max_size=30)), max_size=5),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
)
def test_a_text_replys_keyboard_is_the_same_keyboard_as_json(options: list[tuple[str, str]], version: int | None) -> None:
    """`keyboard_json` (text replies, sent through `Bot._post`) says exactly what `render_keyboard` (files) says."""
    markup = render_keyboard(options, version)
    assert keyboard_json(options, version) == (None if markup is None else markup.to_dict())


@pytest.mark.parametrize(
    ("payload", "position", "version", "data"),
    [
        pytest.param("casa", 1, 12, "v12|casa", id="payload"),
        pytest.param("claim:7", 2, None, "v|claim:7", id="no-version"),
        pytest.param("x" * 61, 3, 12, "v12#3", id="too-long-falls-back-to-position"),
        pytest.param("è" * 30, 4, 1234, "v1234#4", id="multibyte-counted-in-bytes"),
        pytest.param("x" * 62, 5, None, "v|" + "x" * 62, id="exactly-64-bytes-fits"),
    ],
)
def test_callback_data(payload: str, position: int, version: int | None, data: str) -> None:
    assert callback_data(payload, position, version) == data
    assert len(data.encode()) <= MAX_CALLBACK_DATA_BYTES


@pytest.mark.parametrize(
    ("data", "press"),
    [
        pytest.param("v12|casa", ButtonPress(12, payload="casa"), id="payload"),
        pytest.param("v|claim:7", ButtonPress(None, payload="claim:7"), id="no-version"),
        pytest.param("v3|a|b", ButtonPress(3, payload="a|b"), id="payload-with-a-bar"),
        pytest.param("v12#3", ButtonPress(12, position=3), id="position"),
        pytest.param("casa", None, id="not-ours"),
        pytest.param("v12|", None, id="empty-payload"),
        pytest.param("v12#0", None, id="position-zero"),
        pytest.param("v12#x", None, id="position-not-a-number"),
        pytest.param("v12#²", None, id="position-unicode-digit"),
        pytest.param("v١٢|casa", None, id="version-unicode-digits"),
        pytest.param(None, None, id="no-data"),
    ],
)
def test_parse_callback(data: str | None, press: ButtonPress | None) -> None:
    assert parse_callback(data) == press


@given(payload=st.text(min_size=1, max_size=80), version=st.none() | st.integers(0, 10**12), position=st.integers(1, 100))
def test_every_button_fits_and_reads_back(payload: str, version: int | None, position: int) -> None:
    data = callback_data(payload, position, version)
    assert 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
    press = parse_callback(data)
    assert press is not None and press.version == version
    assert press.payload == payload or (press.payload is None and press.position == position)
