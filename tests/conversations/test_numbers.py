"""Numbers typed by people: digits `int()` refuses ("፩", "²"), or too many of them, are never an exception.

`str.isdigit` is true for "፩" (Ethiopic) and "²" (a superscript), which `int()` refuses with a
ValueError; `int()` also refuses more than 4,300 digits, and 40 digits overflow a database id.
`small_int` is the one reading of a number in the code base (issue 13).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations import Context, Engine, Inbound, State, small_int
from conversations.admin.reports import AUDIT_DEFAULT, audit_size
from tests.conversations.staff_chat import CATEGORIES, OPERATORS, staff_chat
from tests.helpers.clock import START

NOT_INT = ["፩", "፩፪", "²", "³3", "١", "𝟙", "⑴", "1" * 5000, "-1", "+1", " 1", "1 ", "1.0", ""]
INTAKE = ("ciao", "1", "1", "5", "Serve aiuto per la spesa", "Castro", "1", "2", "2", "333 1234567", "2", "comune")


@pytest.mark.parametrize(
    ("text", "maximum", "minimum", "expected"),
    [
        ("7", 9, 0, 7),
        ("007", 9, 0, 7),
        ("0", 9, 0, 0),
        ("0", 9, 1, None),
        ("10", 9, 0, None),
        ("2147483647", 2**31 - 1, 1, 2**31 - 1),
        ("2147483648", 2**31 - 1, 1, None),
        ("9" * 40, 2**31 - 1, 0, None),
        ("0" * 5000 + "3", 9, 0, 3),
        *((text, 10**9, 0, None) for text in NOT_INT),
    ],
)
def test_small_int_reads_only_ascii_digits_within_bounds(text: str, maximum: int, minimum: int, expected: int | None) -> None:
    assert small_int(text, maximum, minimum=minimum) == expected


@given(text=st.text(alphabet=st.characters(codec=None)), maximum=st.integers(0, 2**63))
def test_small_int_never_raises(text: str, maximum: int) -> None:
    value = small_int(text, maximum)
    assert value is None or (0 <= value <= maximum and text.isascii() and text.isdigit())


def _states(engine: Engine, ctx: Context) -> list[State]:
    states, state = [State()], State()
    for i, text in enumerate(INTAKE):
        state = engine.step(state, Inbound("t", str(i), "s", START, text=text), ctx).state
        states.append(state)
    return states


@pytest.mark.parametrize("text", ["፩", "፩፪", "᧚", "𐩀", "1" * 5000])
def test_a_number_int_refuses_at_any_choice_is_asked_again(engine: Engine, ctx: Context, text: str) -> None:
    for state in _states(engine, ctx):
        turn = engine.step(state, Inbound("t", "x", "s", START, text=text), replace(ctx, now=START))
        assert turn.replies and turn.state.version == state.version + 1


@pytest.mark.parametrize("arg", ["፩", "²", "9" * 40, "1" * 5000])
def test_admin_ids_and_positions_that_int_refuses_get_the_usage(engine: Engine, ctx: Context, arg: str) -> None:
    chat = staff_chat(engine, ctx, operators=OPERATORS, categories=CATEGORIES)
    chat.citizen(f"/revoca_operatore {arg}")
    assert chat.said() == ["admin.usage_revoca_operatore"]
    chat.citizen(f"/sposta_categoria salute {arg}")
    assert chat.said() == ["admin.usage_sposta_categoria"]
    assert chat.effects() == []


@pytest.mark.parametrize("arg", ["፩", "²", "9" * 40, "1" * 5000])
def test_audit_size_of_a_number_int_refuses_is_the_default_or_the_most(arg: str) -> None:
    assert audit_size((arg,)) in {AUDIT_DEFAULT, 100}


@pytest.mark.parametrize("arg", ["፩", "²"])
def test_on_whatsapp_a_word_with_a_number_int_refuses_is_no_command(engine: Engine, ctx: Context, arg: str) -> None:
    admin = staff_chat(engine, ctx, channel="whatsapp", audit=())
    admin.citizen(f"audit {arg}")
    assert "admin.audit" not in admin.said()
