"""The operator's desk as transcripts: enrolment refusals, the list, a need's detail, claim, decline, status and notes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conversations import (
    CommandRefused,
    Context,
    Desk,
    Engine,
    HistoryItem,
    InviteRefused,
    InviteView,
    Msg,
    NeedClaimed,
    NeedDeclined,
    NeedView,
    NoteAdded,
    Option,
    StatusChanged,
)
from conversations.operator import CLAIM_WORDS, DECLINE_WORDS, MAX_NOTE_CHARS, MAX_PAGE, asked_page, claim_options
from tests.conversations.test_operator import NEED, OP
from tests.helpers.clock import START
from tests.helpers.transcript import Chat

NEW = NEED  # "nuova", offered to "Il Cantiere", with a phone
OURS = replace(NEW, status="presa_in_carico", is_ours=True, claimed_by="Il Cantiere", is_offered=False)
THEIRS = replace(NEW, status="presa_in_carico", claimed_by="La Rete", contact_phone=None, is_offered=False)
INVITE = InviteView("K7MR4PXA", 1, "Il Cantiere", "operatore", START + timedelta(days=7), is_used=False)


def desk(engine: Engine, ctx: Context, **loaded: object) -> Chat:
    """An operator's chat whose next command finds `loaded` on the desk."""
    values: dict[str, object] = {"operator": OP, **loaded}
    return Chat(engine, replace(ctx, desk=Desk(**values)))


def put(chat: Chat, **loaded: object) -> None:
    chat.ctx = replace(chat.ctx, desk=replace(chat.ctx.desk, **loaded))


# --- enrolment ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desk", "text", "said", "reason"),
    [
        (Desk(invite=None), "/operatore K7MR4PXA", "op.unknown_code", "unknown"),
        (Desk(invite=replace(INVITE, is_used=True)), "/operatore K7MR4PXA", "op.code_used", "used"),
        (Desk(invite=replace(INVITE, expires_at=START)), "/operatore K7MR4PXA", "op.code_expired", "expired"),
        (Desk(invite=INVITE, invite_locked=True), "/operatore K7MR4PXA", "op.code_locked", "locked"),
        (Desk(invite=INVITE), "/operatore", "op.usage_operatore", None),
    ],
)
def test_enrolment_refusals(engine: Engine, ctx: Context, desk: Desk, text: str, said: str, reason: str | None) -> None:
    chat = Chat(engine, replace(ctx, desk=desk))
    chat.citizen(text)
    assert chat.said() == [said]
    # Every refused code is an effect (audited, counted towards the lock-out); asking how to use it is not.
    assert chat.effects() == ([InviteRefused(reason=reason, at=START)] if reason else [])


def test_an_enrolled_operator_is_told_so(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, invite=INVITE)
    chat.citizen("/operatore K7MR4PXA")
    chat.bot_says("op.already_enrolled", cooperative="Il Cantiere")
    assert chat.effects() == []


def test_on_whatsapp_a_citizen_types_the_invite_as_words(engine: Engine, ctx: Context) -> None:
    chat = Chat(engine, replace(ctx, desk=Desk(invite=INVITE)), channel="whatsapp")
    chat.citizen("ciao")
    chat.citizen("operatore k7mr 4pxa")
    chat.bot_says("op.enrolled", cooperative="Il Cantiere", commands=Msg("op.commands"))
    chat.ctx = replace(chat.ctx, desk=Desk())
    chat.citizen("operatore")  # alone, it is what a citizen types to ask for a person
    assert not any(m.startswith("op.") for m in chat.said()), chat.said()


# --- the list and a need's detail ----------------------------------------------------


def test_list_with_no_open_needs(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx)
    chat.citizen("/richieste")
    assert chat.said() == ["op.needs_none"]
    chat.bot_says("op.needs_none", cooperative="Il Cantiere")


def test_list_items_and_the_last_page(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, open_needs=(NEW,), open_total=6, page=2)
    chat.citizen("/richieste 2")
    msg = chat.bot_says("op.needs_page", cooperative="Il Cantiere", total=6, page=2, pages=2, more="")
    assert msg.params["items"] == (
        Msg(
            "op.needs_item",
            {
                "ticket": "K7M-R4P",
                "urgency": Msg("urgency.alta"),
                "category": "Spesa",
                "comune": "Ravenna",
                "status": Msg("status.nuova"),
                "date": START,
            },
        ),
    )


@pytest.mark.parametrize(
    ("text", "shown", "note"),
    [
        pytest.param("/richieste 2", 1, Msg("op.page_beyond", {"asked": "2"}), id="past-the-last"),
        pytest.param("/richieste 99999999999", 1, Msg("op.page_beyond", {"asked": "99999999999"}), id="huge"),
        pytest.param("/richieste 0", 1, Msg("op.page_from_one"), id="zero"),
        pytest.param("/richieste -1", 1, Msg("op.page_not_number", {"asked": "-1"}), id="negative"),
        pytest.param("/richieste seconda", 1, Msg("op.page_not_number", {"asked": "seconda"}), id="words"),
        pytest.param("/richieste 1", 1, None, id="the-page-asked"),
        pytest.param("/richieste", 1, None, id="no-page"),
    ],
)
def test_a_page_that_does_not_exist_says_so_and_shows_one_that_does(engine: Engine, ctx: Context, text: str, shown: int, note: Msg | None) -> None:
    """The reader loaded the page it could (`bot/reads/desk.need_list`); the reply says why it is not the one asked."""
    chat = desk(engine, ctx, open_needs=(NEW,), open_total=1, page=shown)
    chat.citizen(text)
    chat.bot_says("op.needs_page", page=shown, pages=1)
    lead = chat.last.replies[-1].text
    assert (lead.params.get("lead") if lead.id == "common.lead" else None) == note


def test_the_page_asked_for_is_read_within_bounds() -> None:
    assert [asked_page(arg) for arg in ("2", "0002", "0", "-1", "due", "", "²", "9" * 40)] == [2, 2, None, None, None, None, None, MAX_PAGE]


def test_detail_of_a_new_need_offers_claim_and_decline(engine: Engine, ctx: Context) -> None:
    history = (HistoryItem(START, "nuova"), HistoryItem(START, "nota", "chiamare dopo le 17"))
    chat = desk(engine, ctx, need=replace(NEW, history=history))
    chat.citizen("/richiesta k7m r4p")
    reply = chat.last.replies[0]
    assert [o.payload for o in reply.options] == ["/prendo K7M-R4P", "/declino K7M-R4P"]
    msg = chat.bot_says("op.need_detail", ticket="K7M-R4P", claimed="", contact=Msg("op.contact_hidden"))
    # Offered, not held: history and notes are the holding cooperative's alone (issue 13).
    assert msg.params["history"] == Msg("op.history_hidden")


def test_detail_of_our_need_shows_history_and_notes_with_the_operator_behind_each(engine: Engine, ctx: Context) -> None:
    history = (
        HistoryItem(START, "nuova"),
        HistoryItem(START, "presa_in_carico", operator_id=3),
        HistoryItem(START, "nota", "chiamare dopo le 17", operator_id=4),
    )
    chat = desk(engine, ctx, need=replace(OURS, history=history))
    chat.citizen("/richiesta K7M-R4P")
    msg = chat.bot_says("op.need_detail", ticket="K7M-R4P")
    assert msg.params["history"] == (
        Msg("op.history_item", {"date": START, "status": Msg("status.nuova"), "by": "", "note": ""}),
        Msg(
            "op.history_item",
            {"date": START, "status": Msg("status.presa_in_carico"), "by": Msg("op.history_by", {"operator": 3}), "note": ""},
        ),
        Msg(
            "op.history_item",
            {
                "date": START,
                "status": Msg("op.history_note_label"),
                "by": Msg("op.history_by", {"operator": 4}),
                "note": Msg("op.history_note", {"note": "chiamare dopo le 17"}),
            },
        ),
    )


def test_detail_of_a_need_another_cooperative_holds_hides_its_notes(engine: Engine, ctx: Context) -> None:
    history = (HistoryItem(START, "presa_in_carico"), HistoryItem(START, "nota", "citofono 3B"))
    chat = desk(engine, ctx, need=replace(THEIRS, history=history))
    chat.citizen("/richiesta K7M-R4P")
    msg = chat.bot_says("op.need_detail", ticket="K7M-R4P")
    assert msg.params["history"] == Msg("op.history_hidden")


def test_detail_of_our_need_shows_the_contact_and_no_buttons(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=OURS)
    chat.citizen("/richiesta K7M-R4P")
    assert chat.last.replies[0].options == ()
    chat.bot_says(
        "op.need_detail",
        contact=Msg("op.contact_phone", {"phone": "+393331234567"}),
        claimed=Msg("op.claimed_by", {"cooperative": "Il Cantiere"}),
    )
    put(chat, need=replace(OURS, contact_phone=None))
    chat.citizen("/richiesta K7M-R4P")
    chat.bot_says("op.need_detail", contact=Msg("op.contact_chat"))
    chat.citizen("/richiesta")
    assert chat.said() == ["op.usage_richiesta"]


def test_claim_options_are_commands() -> None:
    assert claim_options("K7M-R4P") == (
        Option("/prendo K7M-R4P", Msg("op.option_claim"), CLAIM_WORDS),
        Option("/declino K7M-R4P", Msg("op.option_decline"), DECLINE_WORDS),
    )


# --- claim and decline ---------------------------------------------------------------


def test_claim_of_a_need_already_taken(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=OURS)
    chat.citizen("/prendo K7M-R4P")
    assert chat.said() == ["op.claim_already_ours"]
    put(chat, need=THEIRS)
    chat.citizen("/prendo K7M-R4P")
    chat.bot_says("op.claim_taken", ticket="K7M-R4P", cooperative="La Rete")
    assert chat.effects() == []


def test_claim_of_a_need_without_a_phone_says_to_write_in_the_chat(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=replace(NEW, contact_phone=None))
    chat.citizen("/prendo K7M-R4P")
    chat.bot_says("op.claim_ok", ticket="K7M-R4P", description="Spesa per mia madre", contact=Msg("op.contact_chat"))
    assert chat.effects() == [NeedClaimed("n1", "K7M-R4P", 3, 1, START)]


def test_decline_a_new_need_offered_to_us(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=NEW)
    chat.citizen(choice="/declino K7M-R4P")
    chat.bot_says("op.declined", ticket="K7M-R4P", cooperative="Il Cantiere")
    assert chat.effects() == [NeedDeclined("n1", "K7M-R4P", 3, 1, START)]


@pytest.mark.parametrize(
    ("need", "text", "said"),
    [
        pytest.param(OURS, "/declino K7M-R4P", "op.decline_too_late", id="decline-ours"),
        pytest.param(THEIRS, "/declino K7M-R4P", "op.decline_too_late", id="decline-theirs"),
        pytest.param(replace(NEW, is_offered=False), "/declino K7M-R4P", "op.decline_too_late", id="decline-not-offered"),
        pytest.param(THEIRS, "/stato K7M-R4P risolta", "op.status_not_ours", id="status-theirs"),
        pytest.param(NEW, "/stato K7M-R4P risolta", "op.status_claim_first", id="status-before-claim"),
    ],
)
def test_refusals_change_nothing(engine: Engine, ctx: Context, need: NeedView, text: str, said: str) -> None:
    chat = desk(engine, ctx, need=need)
    chat.citizen(text)
    assert chat.said() == [said]
    assert chat.effects() == []


# --- status and notes ----------------------------------------------------------------


def test_status_of_our_need(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=OURS)
    chat.citizen("/stato K7M-R4P presa_in_carico")  # never back to claimed
    assert chat.said() == ["op.status_unknown"]
    chat.citizen("/stato K7M-R4P in corso")
    chat.bot_says("op.status_changed", ticket="K7M-R4P", status=Msg("status.in_corso"))
    [change] = chat.effects()
    assert change == StatusChanged("n1", "K7M-R4P", "presa_in_carico", "in_corso", None, "operator:3", START)
    put(chat, need=replace(OURS, status="in_corso"))
    chat.citizen("/stato K7M-R4P incorso")
    chat.bot_says("op.status_same", ticket="K7M-R4P", status=Msg("status.in_corso"))
    assert len(chat.effects()) == 1
    chat.citizen("/stato")
    assert chat.said() == ["op.usage_stato"]


def test_notes(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=NEW)
    chat.citizen("/nota K7M-R4P suonare due volte")
    assert chat.said() == ["op.status_claim_first"]
    put(chat, need=THEIRS)
    chat.citizen("/nota K7M-R4P suonare due volte")
    assert chat.said() == ["op.status_not_ours"]
    put(chat, need=OURS)
    chat.citizen("/nota K7M-R4P")
    assert chat.said() == ["op.usage_nota"]
    chat.citizen("/nota K7M-R4P " + "x" * (MAX_NOTE_CHARS + 10))
    chat.bot_says("op.note_added", ticket="K7M-R4P")
    assert chat.effects() == [NoteAdded("n1", "K7M-R4P", 3, "x" * MAX_NOTE_CHARS, START)]


@pytest.mark.parametrize("text", ["/richieste", "/richiesta K7M-R4P", "/prendo K7M-R4P", "/declino K7M-R4P", "/stato K7M-R4P risolta", "/nota K7M-R4P ciao"])
def test_every_desk_command_is_refused_to_a_citizen(engine: Engine, ctx: Context, text: str) -> None:
    chat = Chat(engine, replace(ctx, desk=Desk(need=NEW)))
    chat.citizen(text)
    assert chat.said() == ["common.welcome", "menu.ask"]
    assert chat.effects() == [CommandRefused(text.split()[0].lstrip("/"))]
