"""Hypothesis: any text at any step never raises and always gets a reply within channel limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import (
    Context,
    Desk,
    NeedSummary,
    Engine,
    Gazetteer,
    Inbound,
    Role,
    Staff,
    State,
    Stats,
    SystemStatus,
    Translator,
    Turn,
    Who,
    build_engine,
)
from conversations.flows.followup import begin
from tests.conftest import CATEGORIES
from tests.conversations.staff_chat import ADMIN, CANTIERE_DETAIL, COOPS, OPERATORS
from tests.conversations.staff_chat import CATEGORIES as STAFF_CATEGORIES
from tests.conversations.test_operator import NEED, OP
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


# --- every step of every flow, and every command, over all of Unicode (issue 13) ------------------

ALL_CATEGORIES = (
    "Cc", "Cf", "Cn", "Co", "Cs", "Ll", "Lm", "Lo", "Lt", "Lu", "Mc", "Me", "Mn", "Nd", "Nl", "No",
    "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "Sc", "Sk", "Sm", "So", "Zl", "Zp", "Zs",
)  # fmt: skip
"""Every general category, surrogates (Cs) and unassigned code points (Cn) included: a `str` holds them all."""
_CODE_POINTS = tuple(map(chr, range(0x110000)))
DIGITS = (
    "0123456789"
    + "".join(ch for ch in _CODE_POINTS if ch.isdigit() and not ch.isdecimal())  # "²", "፩", "①": int() refuses them
    + "".join(ch for ch in _CODE_POINTS if ch.isdecimal() and not ch.isascii())  # "٣", "४", "𝟙": int() reads them
    + "".join(ch for ch in _CODE_POINTS if ch.isnumeric() and not ch.isdigit())  # "½", "Ⅻ", "万"
)
"""Digits of every script, superscripts, circled and fractional numbers."""
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Zero-width characters and the marks that turn text right to left."""
WORDS = ("1", "2", "10", "sì", "no", "spesa", "Ravenna", "Castro", "K7M-R4P", "risolta", "telegram", "-", "/annulla", "indietro")
"""Answers that mean something somewhere, to be wrapped in the rest."""

PIECE = st.one_of(
    st.text(st.characters(categories=ALL_CATEGORIES), max_size=12),
    st.text(st.sampled_from(DIGITS), min_size=1, max_size=3),
    st.text(st.characters(categories=("Mn", "Mc", "Me")), min_size=1, max_size=4),
    st.text(st.sampled_from(INVISIBLE), min_size=1, max_size=4),
    st.sampled_from(WORDS),
    st.just(" "),
)
UNICODE = st.one_of(PIECE, st.lists(PIECE, max_size=6).map("".join))
"""Not only printable text: what a hostile or unlucky client can put in a message."""

ADMIN_SCRIPTS = (
    ("/nomina_admin telegram 4242",),
    ("/annuncio", "Domenica sportello aperto"),
    ("/nuova_categoria", "mobilita", "Mobilità", "Mobility"),
    ("/nuova_cooperativa", "Il Faro", "faro", "Ravenna", "spesa", "-", "europe/rome", "it"),
    ("/sinonimi_categoria spesa",),
)
CITIZEN_SCRIPTS = (
    SCRIPT,
    ("ciao", "1", "1", "5", "Serve aiuto per la spesa", "Ravenna", "1", "2", "2"),  # a phone that does not read
    ("/cancella_dati",),
    ("/lingua",),
    ("ciao", "1", "1", "mia mamma ha novant'anni e si sente sola, avrebbe bisogno di compagnia"),  # a category suggested
)

HELD = NeedSummary(ticket="K7M-R4P", category_label="Spesa", status="presa_in_carico", created_at=START, id="n1", cooperative="Il Cantiere")
THREAD_SCRIPTS = (("/miei",), ("K7M-R4P",), ("K7M-R4P", "1"), ("/ritira K7M-R4P",))
"""A citizen's own request (issue 15): its menu, adding information, the withdrawal's confirmation."""


def _full_staff() -> Staff:
    return replace(
        ADMIN,
        stats=Stats(since=START - timedelta(days=30), until=START),
        system=SystemStatus(),
        operators=OPERATORS,
        cooperatives=COOPS,
        cooperative=CANTIERE_DETAIL,
        categories=STAFF_CATEGORIES,
        recipients=3,
    )


def _staff_ctx(ctx: Context) -> Context:
    need = replace(NEED, is_ours=True, claimed_by="Il Cantiere", status="presa_in_carico")
    desk = Desk(operator=OP, need=need, open_needs=(need,), open_total=1)
    return replace(ctx, staff=_full_staff(), desk=desk)


class Reached(dict[tuple[str, str], tuple[State, Context]]):
    """(flow, step) → a state there and its context; a short repr, or Hypothesis would print the gazetteer."""

    def __repr__(self) -> str:
        return f"<{len(self)} states>"


@pytest.fixture(scope="module")
def base_ctx(gazetteer: Gazetteer) -> Context:
    return Context(now=START, gazetteer=gazetteer, categories=CATEGORIES, new_id="0" * 32, ticket="K7M-R4P")


@pytest.fixture(scope="module")
def every_step(engine: Engine, base_ctx: Context) -> Reached:
    """A state at every step of every flow (with the context it was reached in), from scripted chats."""
    base = base_ctx
    found = Reached()
    english = replace(base, detect_language=lambda text: "en")  # a first message in another language: the offer
    suggesting = replace(base, suggest=lambda text: (("solitudine", 0.9),))
    for scripts, ctx in (
        (CITIZEN_SCRIPTS, suggesting),
        (ADMIN_SCRIPTS, _staff_ctx(base)),
        ((("Hello, I need help please. I don't speak Italian.",),), english),
        (THREAD_SCRIPTS, replace(base, needs=(HELD,))),
    ):
        for script in scripts:
            state = State()
            for i, text in enumerate(script):
                state = engine.step(state, Inbound("telegram", str(i), "s", START, text=text), ctx).state
                if state.flow_id and state.step_id:
                    found.setdefault((state.flow_id, state.step_id), (state, ctx))
    for flow_id in ("followup", "satisfaction"):
        state, _ = begin(engine.flows[flow_id], State(), base, need_id="n1", ticket="K7M-R4P")
        found[(flow_id, state.step_id or "")] = (state, base)
        comment = engine.step(state, Inbound("telegram", "x", "s", START, text="2"), base).state
        if comment.flow_id and comment.step_id:
            found.setdefault((comment.flow_id, comment.step_id), (comment, base))
    return found


def test_the_fuzzed_states_cover_every_step_of_every_flow(engine: Engine, every_step: dict[tuple[str, str], object]) -> None:
    assert {(f.id, s) for f in engine.flows.values() for s in f.steps} == set(EVERY_STEP) == set(every_step)


def _check(turn: Turn, state: State, translator: Translator) -> None:
    assert turn.replies, "never silence"
    assert turn.state.version == state.version + 1
    for reply in turn.replies:
        for lang in ("it", "en"):
            rendered = translator.render(reply, lang)
            assert rendered.text.strip()
            # What we write goes to the outbox: it must be storable (no lone surrogate) on PostgreSQL.
            (rendered.text + "".join(o.label for o in rendered.options)).encode("utf-8")


EVERY_STEP = sorted((flow.id, step) for flow in build_engine().flows.values() for step in flow.steps)
STAFF_COMMANDS = sorted(name for spec in build_engine().commands if spec.who != Who.ANYONE for name in spec.names)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(EVERY_STEP), text=UNICODE, use_choice=st.booleans(), channel=st.sampled_from(["telegram", "whatsapp"])
)
def test_any_unicode_at_every_step_of_every_flow_gets_a_reply(
    engine: Engine,
    translator: Translator,
    every_step: Reached,
    key: tuple[str, str],
    text: str,
    use_choice: bool,
    channel: str,
) -> None:
    state, ctx = every_step[key]
    inbound = Inbound(
        channel,
        "x",
        "s",
        START,
        text=None if use_choice else text,
        choice=text if use_choice else None,
        conversation_version=state.version if use_choice else None,
    )
    _check(engine.step(state, inbound, ctx), state, translator)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(STAFF_COMMANDS), args=UNICODE, slash=st.booleans(), channel=st.sampled_from(["telegram", "whatsapp"]))
def test_any_unicode_after_any_admin_or_operator_command_gets_a_reply(
    engine: Engine, translator: Translator, every_step: Reached, name: str, args: str, slash: bool, channel: str
) -> None:
    _, staff_ctx = every_step[("conferma", "confirm")]  # an admin's, with everything a command reads loaded
    for role_ctx in (staff_ctx, replace(staff_ctx, staff=replace(staff_ctx.staff, role=Role.OPERATOR, cooperative_id=1))):
        state = State()
        turn = engine.step(state, Inbound(channel, "x", "s", START, text=f"{'/' if slash else ''}{name} {args}"), role_ctx)
        _check(turn, state, translator)
