"""STOP/START are opt-out keywords on WhatsApp only; elsewhere they are what they always were."""

from __future__ import annotations

from dataclasses import replace

from conversations import Context, Engine, Inbound, OptedIn, OptedOut, State
from tests.helpers.clock import START


def say(engine: Engine, ctx: Context, text: str, *, channel: str, state: State = State()) -> tuple[State, list[str], list[object]]:
    turn = engine.step(state, Inbound(channel=channel, external_id="1", sender="x", received_at=START, text=text), ctx)
    return turn.state, [r.text.id for r in turn.replies], list(turn.effects)


def test_stop_on_whatsapp_opts_out_and_ends_the_conversation(engine: Engine, ctx: Context) -> None:
    state, _, _ = say(engine, ctx, "/nuovo", channel="whatsapp")
    assert state.is_active
    state, msgids, effects = say(engine, ctx, "STOP", channel="whatsapp", state=state)
    assert msgids == ["optout.confirmed"] and not state.is_active
    assert OptedOut(at=START) in effects


def test_stop_on_telegram_is_not_an_opt_out(engine: Engine, ctx: Context) -> None:
    _, msgids, effects = say(engine, ctx, "stop", channel="telegram")
    assert "optout.confirmed" not in msgids
    assert not any(isinstance(e, OptedOut) for e in effects)


def test_start_opts_back_in_only_when_opted_out(engine: Engine, ctx: Context) -> None:
    _, msgids, effects = say(engine, replace(ctx, is_opted_out=True), "START", channel="whatsapp")
    assert msgids[0] == "optout.resumed" and OptedIn(at=START) in effects
    _, msgids, effects = say(engine, ctx, "START", channel="whatsapp")
    assert "optout.resumed" not in msgids and not any(isinstance(e, OptedIn) for e in effects)
    _, msgids, _ = say(engine, replace(ctx, is_opted_out=True), "/start", channel="telegram")
    assert "optout.resumed" not in msgids
