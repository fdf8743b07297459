"""split_text keeps every character, respects the limit and prefers line boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.render import split_text, text_limit


def test_short_text_is_one_part() -> None:
    assert split_text("ciao", 10) == ["ciao"]


def test_cuts_on_line_boundaries() -> None:
    assert split_text("aaaa\nbbbb\ncccc", 9) == ["aaaa\nbbbb", "cccc"]


def test_long_line_is_cut_at_a_space_then_hard() -> None:
    assert split_text("uno due tre", 7) == ["uno due", "tre"]
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_limits_per_channel() -> None:
    assert (text_limit("telegram"), text_limit("whatsapp")) == (4096, 1600)


def test_zero_limit_is_an_error() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)


@given(text=st.text(min_size=1, max_size=3000), limit=st.integers(min_value=1, max_value=500))
def test_every_part_fits_and_no_word_is_lost(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert parts and all(0 < len(p) <= limit for p in parts)
    assert "".join(text.split()) == "".join("".join(parts).split()) or not text.strip()
