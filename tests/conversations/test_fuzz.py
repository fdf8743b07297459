"""Hypothesis: any text at any step never raises and always gets a reply within channel limits."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import Context, Engine, Inbound, State, Translator
from tests.helpers.clock import START

TELEGRAM_LIMIT = 4096
WHATSAPP_LIMIT = 1600

# A walk through the intake, so fuzzed text lands at every step.
SCRIPT = ("ciao", "1", "1", "5", "Serve aiuto per la spesa", "Castro", "1", "2", "2", "333 1234567", "2", "comune")

NASTY = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "\x00\x01\x1b[31m",
            "🙂🙂🙂",
            "مرحبا بالعالم",
            "'; DROP TABLE need; --",
            "{ticket} {0} %s %(x)s",
            "/",
            "/annulla@",
            "1" * 5000,
            "x" * 10_000,
            "\u202e\u200f",
        ]
    ),
)


def _states(engine: Engine, ctx: Context) -> list[State]:
    states, state = [State()], State()
    for i, text in enumerate(SCRIPT):
        state = engine.step(state, Inbound("t", str(i), "s", START, text=text), ctx).state
        states.append(state)
    return states


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NASTY, at=st.integers(min_value=0, max_value=len(SCRIPT)), use_choice=st.booleans())
def test_any_text_at_any_step_gets_a_reply_within_limits(
    engine: Engine, ctx: Context, translator: Translator, text: str, at: int, use_choice: bool
) -> None:
    state = _states(engine, ctx)[at]
    inbound = Inbound(
        "t",
        "x",
        "s",
        START,
        text=None if use_choice else text,
        choice=text if use_choice else None,
        conversation_version=state.version if use_choice else None,
    )
    turn = engine.step(state, inbound, replace(ctx, now=START))
    assert turn.replies
    for reply in turn.replies:
        for lang in ("it", "en"):
            rendered = translator.render(reply, lang)
            assert rendered.text.strip()
            body = rendered.text + "".join(o.label for o in rendered.options)
            assert len(body) <= min(TELEGRAM_LIMIT, WHATSAPP_LIMIT) + 200
    assert turn.state.version == state.version + 1
