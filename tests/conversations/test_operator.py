"""Operator commands as pure code: argument parsing and a transcript against a loaded desk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conversations import (
    CommandRefused,
    Context,
    Desk,
    Engine,
    Inbound,
    InviteView,
    NeedClaimed,
    NeedView,
    OperatorEnrolled,
    OperatorView,
    StatusChanged,
    build_engine,
)
from conversations.operator import OperatorCommand
from tests.helpers.clock import START
from tests.helpers.transcript import Chat


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/operatore k7mr-4pxa", OperatorCommand("operatore", code="K7MR4PXA")),
        ("/richieste 2", OperatorCommand("richieste", arg="2")),
        ("/richiesta k7m r4p", OperatorCommand("richiesta", code="K7M-R4P")),
        ("/stato K7MR4P in corso chiamata la figlia", OperatorCommand("stato", code="K7M-R4P", arg="in_corso", rest="chiamata la figlia")),
        ("/stato K7M-R4P risolto", OperatorCommand("stato", code="K7M-R4P", arg="risolta")),
        ("/nota K7M-R4P porta le chiavi", OperatorCommand("nota", code="K7M-R4P", rest="porta le chiavi")),
        ("/prendo@AscoltoBot K7M-R4P", OperatorCommand("prendo", code="K7M-R4P")),
        ("/annulla", None),
        ("ciao", None),
    ],
)
def test_operator_commands_are_parsed_with_their_arguments(text: str, expected: OperatorCommand | None) -> None:
    call = build_engine().recognise(Inbound(channel="test", external_id="1", sender="lucia", received_at=START, text=text))
    assert (call.parsed if call is not None else None) == expected


OP = OperatorView(id=3, cooperative_id=1, cooperative_name="Il Cantiere", role="operatore")
NEED = NeedView(
    id="n1",
    ticket="K7M-R4P",
    category_label="Spesa",
    comune_name="Ravenna",
    urgency="alta",
    status="nuova",
    description="Spesa per mia madre",
    created_at=START,
    contact_phone="+393331234567",
    is_offered=True,
)


@pytest.fixture
def desk_chat(engine: Engine, ctx: Context) -> Chat:
    return Chat(engine, ctx)


def test_enrolment_with_a_valid_invite_emits_the_effect(desk_chat: Chat) -> None:
    invite = InviteView("K7MR4PXA", 1, "Il Cantiere", "operatore", START + timedelta(days=7), is_used=False)
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(invite=invite))
    desk_chat.citizen("/operatore K7MR-4PXA")
    desk_chat.bot_says("op.enrolled", cooperative="Il Cantiere")
    assert desk_chat.effects(OperatorEnrolled) == [OperatorEnrolled("K7MR4PXA", 1, "operatore", START)]


def test_claim_then_status_transcript(desk_chat: Chat) -> None:
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(operator=OP, need=NEED))
    desk_chat.citizen("/stato K7M-R4P risolta")
    desk_chat.bot_says("op.status_claim_first", ticket="K7M-R4P")
    desk_chat.citizen(choice="/prendo K7M-R4P")
    desk_chat.bot_says("op.claim_ok", ticket="K7M-R4P")
    assert desk_chat.effects(NeedClaimed) == [NeedClaimed("n1", "K7M-R4P", 3, 1, START)]
    claimed = replace(NEED, status="presa_in_carico", is_ours=True, claimed_by="Il Cantiere")
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(operator=OP, need=claimed))
    desk_chat.citizen("/stato K7M-R4P chiusa doppione")
    [change] = desk_chat.effects(StatusChanged)
    assert (change.from_status, change.to_status, change.note, change.actor) == ("presa_in_carico", "chiusa", "doppione", "operator:3")
    desk_chat.citizen("/stato K7M-R4P volata")
    desk_chat.bot_says("op.status_unknown")
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(operator=OP, need=replace(claimed, status="chiusa")))
    desk_chat.citizen("/stato K7M-R4P in_corso")
    desk_chat.bot_says("op.status_not_allowed")


def test_a_need_of_another_cooperative_is_not_found(desk_chat: Chat) -> None:
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(operator=OP, need=None))
    desk_chat.citizen("/richiesta K7M-R4P")
    desk_chat.bot_says("op.no_such_need", ticket="K7M-R4P")


def test_a_non_operator_is_answered_as_if_there_were_no_such_command(desk_chat: Chat, engine: Engine, ctx: Context) -> None:
    desk_chat.citizen("/richieste")
    other = Chat(engine, ctx)
    other.citizen("richieste")  # a plain word, never a command
    assert desk_chat.said() == other.said()
    assert desk_chat.effects(CommandRefused) == [CommandRefused("richieste")]
    assert other.effects(CommandRefused) == []


def test_list_is_paged(desk_chat: Chat) -> None:
    desk_chat.ctx = replace(desk_chat.ctx, desk=Desk(operator=OP, open_needs=(NEED,) * 5, open_total=12, page=2))
    desk_chat.citizen("/richieste 2")
    msg = desk_chat.bot_says("op.needs_page", total=12, page=2, pages=3)
    assert msg.params["more"] != ""


@pytest.mark.parametrize(
    ("channel", "is_command"), [pytest.param("whatsapp", True, id="whatsapp"), pytest.param("telegram", False, id="telegram")]
)
def test_on_whatsapp_a_desk_word_with_its_ticket_is_the_command(engine: Engine, ctx: Context, channel: str, is_command: bool) -> None:
    chat = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=NEED)), channel=channel)
    chat.citizen("ciao")  # the home menu: a question with options
    chat.citizen("Prendo K7M-R4P")
    assert chat.effects(NeedClaimed) == ([NeedClaimed("n1", "K7M-R4P", 3, 1, START)] if is_command else [])
    assert chat.effects(CommandRefused) == []  # a plain word is never an attempt


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("stato di salute precario", id="no-ticket"),
        pytest.param("prendo K7M-R4P domani", id="more-words-than-arguments"),
        pytest.param("stato K7M-R4P boh", id="unknown-status"),
        pytest.param("richiesta ZZZ-999", id="a-need-they-cannot-see"),
        pytest.param("stato", id="alone-it-is-a-menu-word"),
    ],
)
def test_on_whatsapp_words_that_do_not_check_out_are_no_command(engine: Engine, ctx: Context, text: str) -> None:
    chat = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=NEED)), channel="whatsapp")
    chat.citizen("ciao")
    chat.citizen(text)
    assert not any(m.startswith("op.") for m in chat.said()), chat.said()


def test_on_whatsapp_a_free_text_question_takes_even_a_valid_command_as_its_answer(engine: Engine, ctx: Context) -> None:
    chat = Chat(engine, replace(ctx, desk=Desk(operator=OP, need=NEED)), channel="whatsapp")
    chat.consent()
    for text in ("ciao", "1", "5"):  # menu → new need → category: the description question has no options
        chat.citizen(text)
    chat.bot_asks("intake.ask_description")
    chat.citizen("prendo K7M-R4P")
    assert chat.effects(NeedClaimed) == []
    assert chat.state.answers["description"] == "prendo K7M-R4P"
