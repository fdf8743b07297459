"""A need's thread and the citizen's side of a request, as transcripts of the pure engine (issue 15)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conversations import (
    CitizenWrote,
    Context,
    CooperativeWrote,
    Desk,
    Engine,
    Inbound,
    Media,
    MediaKind,
    NeedSummary,
    NeedWithdrawn,
    ThreadClosed,
    ThreadItem,
    ThreadOpened,
    WaitingMessage,
    WaitingShown,
    reply_call,
)
from conversations.flows.request import OPEN_FOR
from conversations.thread import withdraw_words
from tests.conversations.test_operator import NEED, OP
from tests.helpers.clock import START
from tests.helpers.transcript import Chat

HELD = NeedSummary(ticket="K7M-R4P", category_label="Spesa", status="presa_in_carico", created_at=START, id="n1", cooperative="Il Cantiere")
WAITING = NeedSummary(ticket="ACD-E79", category_label="Casa", status="nuova", created_at=START, id="n2")
OURS = replace(NEED, status="presa_in_carico", is_ours=True, claimed_by="Il Cantiere", is_offered=False)


def citizen(engine: Engine, ctx: Context, *, talking: bool = False) -> Chat:
    """Anna with a request held by Il Cantiere and one nobody holds yet; `talking`: the conversation is open."""
    values = replace(ctx, needs=(HELD, WAITING))
    if talking:
        values = replace(values, thread_need_id="n1", thread_until=START + OPEN_FOR)
    return Chat(engine, values)


# --- the cooperative writes -------------------------------------------------------------


def test_the_holding_cooperative_writes_to_the_citizen(engine: Engine, ctx: Context) -> None:
    lucia = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=OURS)))
    lucia.citizen("/scrivi K7M-R4P Passiamo domani alle 10")
    lucia.bot_says("thread.op_sent", ticket="K7M-R4P")
    assert lucia.last.replies[0].about == "n1"  # a Telegram reply to this confirmation writes again
    assert lucia.effects() == [
        CooperativeWrote(need_id="n1", ticket="K7M-R4P", operator_id=3, cooperative_id=1, text="Passiamo domani alle 10", at=START)
    ]


@pytest.mark.parametrize(
    "need",
    [
        pytest.param(NEED, id="offered"),
        pytest.param(replace(NEED, status="presa_in_carico", claimed_by="La Rete", is_offered=False), id="taken-by-others"),
        pytest.param(None, id="unknown"),
    ],
)
def test_anyone_else_hears_what_an_unknown_ticket_gets(engine: Engine, ctx: Context, need: object) -> None:
    sara = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=need)))  # type: ignore[arg-type]
    sara.citizen("/scrivi K7M-R4P Mi dà il numero?")
    assert sara.said() == ["op.no_such_need"] and sara.effects() == []


def test_a_closed_request_takes_no_more_messages(engine: Engine, ctx: Context) -> None:
    lucia = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=replace(OURS, status="chiusa"))))
    lucia.citizen("/scrivi K7M-R4P Ancora una cosa")
    lucia.bot_says("thread.op_closed", ticket="K7M-R4P")
    assert lucia.effects() == []
    anna = Chat(engine, replace(ctx, needs=(replace(HELD, status="chiusa"),), thread_need_id="n1", thread_until=START + OPEN_FOR))
    anna.citizen("grazie ancora")
    assert not anna.effects(CitizenWrote)


def test_a_citizen_typing_scrivi_is_not_writing_to_anyone(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx)
    anna.citizen("/scrivi K7M-R4P ciao")
    assert not anna.effects(CooperativeWrote) and "op.no_such_need" not in anna.said()


def test_a_reply_to_a_need_message_is_scrivi_for_that_ticket(engine: Engine, ctx: Context) -> None:
    event = Inbound("telegram", "1", "lucia", START, text="A domani", reply_to="77")
    call = reply_call(engine, event, "K7M-R4P")
    assert call is not None and call.name == "scrivi" and call.explicit
    lucia = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=OURS)))
    turn = engine.step(lucia.state, event, lucia.ctx, call)
    assert [type(e) for e in turn.effects] == [CooperativeWrote]


def test_the_holder_reads_the_thread_in_the_detail(engine: Engine, ctx: Context) -> None:
    thread = (ThreadItem(START, "alla_persona", "Passiamo alle 10"), ThreadItem(START, "dalla_persona", "Va bene"))
    lucia = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=replace(OURS, thread=thread))))
    lucia.citizen("/richiesta K7M-R4P")
    shown = lucia.bot_says("thread.op_thread", ticket="K7M-R4P")
    assert len(shown.params["items"]) == 2  # type: ignore[arg-type]


# --- the citizen answers ---------------------------------------------------------------


def test_while_the_conversation_is_open_words_go_to_the_cooperative_until_fine(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx, talking=True)
    anna.citizen("Sì grazie, al secondo piano")
    anna.bot_says("thread.sent", cooperative="Il Cantiere")
    assert anna.effects(CitizenWrote) == [CitizenWrote(need_id="n1", ticket="K7M-R4P", text="Sì grazie, al secondo piano", at=START)]
    anna.citizen("FINE")
    anna.bot_says("thread.closed", cooperative="Il Cantiere")
    assert anna.effects(ThreadClosed) == [ThreadClosed(need_id="n1", at=START)]


def test_the_conversation_times_out(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx, talking=True)
    anna.wait(hours=24, seconds=1)
    anna.citizen("ci siete?")
    assert not anna.effects(CitizenWrote)
    anna.citizen("fine")  # nothing to end any more: not the command
    assert not anna.effects(ThreadClosed)


def test_a_question_in_progress_keeps_the_words_unless_they_reply(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx, talking=True)
    anna.citizen("/nuovo")
    anna.citizen("Vorrei un passaggio")  # an answer to the intake, not a message to the cooperative
    assert not anna.effects(CitizenWrote)
    anna.ctx = replace(anna.ctx, replied_need_id="n1")
    asked = anna.state.step_id
    # Telegram "Rispondi" on the cooperative's message: to the cooperative, and the question is asked again.
    turn = anna.engine.step(anna.state, Inbound("telegram", "r", "anna", START, text="Arrivo alle 10", reply_to="55"), anna.ctx)
    assert [type(e) for e in turn.effects] == [CitizenWrote, ThreadOpened] and turn.state.step_id == asked


def test_held_messages_are_shown_at_the_next_message_which_is_not_forwarded(engine: Engine, ctx: Context) -> None:
    held = (WaitingMessage(5, "n1", "K7M-R4P", "Il Cantiere", "Passiamo alle 10"), WaitingMessage(6, "n1", "K7M-R4P", "Il Cantiere", "Porti la tessera"))
    anna = Chat(engine, replace(ctx, needs=(HELD,), waiting=held))
    anna.citizen("ok")
    assert anna.said() == ["thread.from_cooperative", "thread.from_cooperative", "thread.reply_hint"]
    assert anna.effects() == [WaitingShown(message_ids=(5, 6), need_id="n1", until=START + OPEN_FOR)]


# --- the request's menu, information, withdrawal ----------------------------------------


def test_the_ticket_menu_adds_information(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx)
    anna.citizen("k7m r4p")
    anna.bot_asks("thread.need_menu", options=["informazioni", "messaggio", "ritirare"])
    anna.citizen("1")
    anna.bot_asks("thread.ask_info")
    anna.citizen("Il citofono è rotto")
    anna.bot_says("thread.info_added", ticket="K7M-R4P")
    assert anna.effects(CitizenWrote) == [CitizenWrote(need_id="n1", ticket="K7M-R4P", text="Il citofono è rotto", at=START, is_info=True)]


def test_nobody_to_write_to_until_someone_holds_it(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx)
    anna.citizen("ACD-E79")
    anna.bot_asks("thread.need_menu", options=["informazioni", "ritirare"])
    shown = anna.last.replies[-1].text.params["item"]
    assert shown.params["holder"].id == "needs.searching"  # type: ignore[union-attr]


def test_mine_lists_holder_status_and_since_when_and_offers_the_open_ones(engine: Engine, ctx: Context) -> None:
    changed = START + timedelta(days=2)
    anna = Chat(engine, replace(ctx, needs=(replace(HELD, changed_at=changed), replace(WAITING, status="chiusa"))))
    anna.citizen("/miei")
    reply = anna.bot_asks("needs.list", options=["K7M-R4P"])
    first = reply.text.params["items"][0]  # type: ignore[index]
    assert first.params["date"] == changed and first.params["holder"].params["cooperative"] == "Il Cantiere"


@pytest.mark.parametrize("words", ["/ritira K7M-R4P", "voglio ritirare la richiesta K7M-R4P", "potete annullare k7m-r4p?", "ritiro la K7M R4P"])
def test_withdrawing_asks_first(engine: Engine, ctx: Context, words: str) -> None:
    anna = citizen(engine, ctx)
    anna.citizen(words)
    anna.bot_asks("thread.ask_withdraw", options=["si", "no"])
    anna.citizen("sì")
    anna.bot_says("thread.withdrawn", ticket="K7M-R4P")
    assert anna.effects(NeedWithdrawn) == [NeedWithdrawn(need_id="n1", ticket="K7M-R4P", from_status="presa_in_carico", at=START)]


@pytest.mark.parametrize("words", ["devo ritirare il pacco in posta", "K7M-R4P", "la richiesta K7M-R4P va bene"])
def test_words_that_are_no_withdrawal(words: str) -> None:
    assert withdraw_words(words) is None


def test_someone_elses_ticket_is_not_found(engine: Engine, ctx: Context) -> None:
    bruno = Chat(engine, ctx)
    bruno.citizen("/ritira K7M-R4P")
    bruno.bot_says("needs.not_found", ticket="K7M-R4P")
    assert bruno.effects() == []


def test_a_photo_during_the_conversation_is_not_a_new_request(engine: Engine, ctx: Context) -> None:
    anna = citizen(engine, ctx, talking=True)
    anna.citizen(media=[Media(MediaKind.PHOTO, "file-1")])
    anna.bot_says("thread.text_only", cooperative="Il Cantiere")
    assert anna.is_idle() and anna.effects() == []
