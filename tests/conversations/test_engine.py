"""The engine's contract: commands, option matching, limits, flow changes under a citizen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import Context, Engine, Inbound, Msg, Option, State, command_name, match_option
from conversations.engine import MAX_STEPS_PER_TURN
from conversations.flow import Flow, Step
from conversations.types import Outcome
from tests.helpers.clock import START

YES_NO = (Option("si", Msg("intake.consent_yes"), ("si", "yes")), Option("no", Msg("intake.consent_no"), ("no",)))
PLACES = (Option("039014", "Ravenna (RA)", ("Ravenna",)), Option("040012", "Forlì (FC)", ("Forlì",)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("/annulla", "annulla", id="slash"),
        pytest.param("/annulla@AscoltoBot", "annulla", id="slash-with-bot-name"),
        pytest.param("  Annulla ", "annulla", id="word-any-case"),
        pytest.param("INDIETRO", "indietro", id="word-upper"),
        pytest.param("/", None, id="bare-slash"),
        pytest.param("annulla tutto per favore", None, id="sentence-is-not-a-command"),
        pytest.param("", None, id="empty"),
        pytest.param("x" * 100, None, id="too-long"),
        pytest.param("stato_sistema", "stato sistema", id="word-with-underscore"),
        pytest.param("/nota K7M-R4P " + "porta le chiavi " * 10, "nota", id="slash-with-long-arguments"),
    ],
)
def test_command_name(text: str, expected: str | None) -> None:
    assert command_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("esporta 2026-11", "esporta", id="word-with-arguments"),
        pytest.param("Stato K7M-R4P risolta", "stato", id="capitalised"),
        pytest.param("/esporta 2026-11", "esporta", id="slash"),
        pytest.param("annulla", "annulla", id="word-alone"),
        pytest.param("   ", None, id="blank"),
    ],
)
def test_command_name_with_arguments_reads_the_first_word(text: str, expected: str | None) -> None:
    assert command_name(text, with_arguments=True) == expected


@pytest.mark.parametrize(
    ("options", "text", "payload"),
    [
        pytest.param(YES_NO, "1", "si", id="number"),
        pytest.param(YES_NO, "2", "no", id="second-number"),
        pytest.param(YES_NO, "3", None, id="number-out-of-range"),
        pytest.param(YES_NO, "0", None, id="zero"),
        pytest.param(YES_NO, "Sì", "si", id="accented-word"),
        pytest.param(YES_NO, "si grazie", "si", id="word-in-sentence"),
        pytest.param(YES_NO, "si e no", None, id="both-is-ambiguous"),
        pytest.param(PLACES, "forli", "040012", id="label-without-accent"),
        pytest.param(PLACES, "Ravena", "039014", id="typo"),
        pytest.param(PLACES, "Milano", None, id="no-match"),
        pytest.param(PLACES, "", None, id="empty"),
        pytest.param(PLACES, "99999999999999999999", None, id="huge-number"),
    ],
)
def test_match_option(options: tuple[Option, ...], text: str, payload: str | None) -> None:
    picked = match_option(options, choice=None, text=text)
    assert (picked.payload if picked else None) == payload


def test_unknown_button_payload_matches_nothing() -> None:
    assert match_option(YES_NO, choice="forse", text="") is None


def _inbound(text: str) -> Inbound:
    return Inbound(channel="t", external_id="1", sender="s", received_at=START, text=text)


def test_a_flow_removed_by_a_deploy_restarts_politely(engine: Engine, ctx: Context) -> None:
    stale = State(flow_id="intake", flow_version=0, step_id="category", updated_at=START, version=3)
    turn = engine.step(stale, _inbound("1"), ctx)
    assert turn.replies[0].text.id == "common.flow_changed"
    assert turn.state.flow_id == "menu" and turn.state.version == 4


def test_a_step_removed_by_a_deploy_restarts_politely(engine: Engine, ctx: Context) -> None:
    stale = State(flow_id="intake", flow_version=1, step_id="vecchio_passo", updated_at=START)
    turn = engine.step(stale, _inbound("ciao"), ctx)
    assert turn.replies[0].text.id == "common.flow_changed"


def test_every_turn_bumps_the_version_and_stamps_the_time(engine: Engine, ctx: Context) -> None:
    turn = engine.step(State(version=7), _inbound("ciao"), replace(ctx, now=START))
    assert turn.state.version == 8 and turn.state.updated_at == START


def test_a_cycle_of_skipped_steps_ends_kindly_instead_of_looping(ctx: Context) -> None:
    always = lambda answers, ctx: True  # noqa: E731
    flow = Flow.build(
        "loop",
        1,
        [
            Step("a", prompt=Msg("menu.ask"), next="b", help="menu.help", skip=always),
            Step("b", prompt=Msg("menu.ask"), next="a", help="menu.help", skip=always),
        ],
        endings={},
    )
    engine = Engine({"loop": flow, "home": flow}, home="loop", entry="loop")
    turn = engine.step(State(), _inbound("ciao"), ctx)
    assert [r.text.id for r in turn.replies][-1] == "common.error"
    assert MAX_STEPS_PER_TURN > 2


def test_an_ending_can_start_another_flow(ctx: Context) -> None:
    first = Flow.build(
        "first",
        1,
        [Step("only", prompt=Msg("menu.ask"), options=YES_NO, next="end.go", help="menu.help")],
        endings={"end.go": lambda a, c: Outcome(start="second")},
    )
    second = Flow.build(
        "second", 1, [Step("q", prompt=Msg("intake.ask_comune"), next="end.x", help="menu.help")],
        endings={"end.x": lambda a, c: Outcome()},
    )
    engine = Engine({"first": first, "second": second}, home="first", entry="first")
    state = engine.step(State(), _inbound("ciao"), ctx).state
    turn = engine.step(state, _inbound("si"), ctx)
    assert turn.state.flow_id == "second" and turn.replies[-1].text.id == "intake.ask_comune"
