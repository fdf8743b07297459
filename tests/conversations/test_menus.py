"""Every numbered choice shown to an operator or an admin is answered by its number and by its words (issue 15, part 5).

Where there are no buttons (WhatsApp, the console) options are drawn as "1. … 2. …": a staff
member types "1" or "prendo in carico" exactly as a citizen answers the intake. One test per
screen; the desk's choices live outside any flow (`conversations.offered`).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import (
    BroadcastRequested,
    CategoryAdded,
    CategoryDisabled,
    Context,
    CooperativeSaved,
    DataErasureRequested,
    Desk,
    Engine,
    LanguageChanged,
    NeedClaimed,
    NeedDeclined,
    OperatorRevoked,
    RoleGranted,
    Role,
    build_engine,
    match_option,
)
from conversations.operator import claim_options
from tests.conversations.staff_chat import CANTIERE_DETAIL, CATEGORIES, COOPS, OPERATORS, load, staff_chat, summary
from tests.conversations.test_operator import NEED, OP
from tests.helpers.clock import START
from tests.helpers.transcript import Chat

TEXT_CHANNELS = [pytest.param("whatsapp", id="whatsapp"), pytest.param("console", id="console")]


def desk(engine: Engine, ctx: Context, channel: str) -> Chat:
    """An operator of "Il Cantiere" on a channel without buttons; the reader finds the need K7M-R4P."""
    return Chat(engine, replace(ctx, desk=Desk(operator=OP, need=NEED)), channel=channel)


# --- the desk: /richiesta of a new need (conversations/operator.py) ---------------------


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
@pytest.mark.parametrize(
    "answer",
    ["1", "prendo in carico", "Prendo", "la prendo io", "ok la prendo in carico"],
)
def test_the_detail_of_a_new_need_is_claimed_by_number_or_words(engine: Engine, ctx: Context, channel: str, answer: str) -> None:
    chat = desk(engine, ctx, channel)
    chat.citizen("/richiesta K7M-R4P")
    chat.bot_asks("op.need_detail", options=["/prendo K7M-R4P", "/declino K7M-R4P"])
    chat.citizen(answer)
    chat.bot_says("op.claim_ok", ticket="K7M-R4P")
    assert chat.effects(NeedClaimed) == [NeedClaimed("n1", "K7M-R4P", 3, 1, START)]
    assert "common.welcome" not in chat.said()


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
@pytest.mark.parametrize("answer", ["2", "non di nostra competenza", "Non è di nostra competenza", "declino"])
def test_the_detail_of_a_new_need_is_declined_by_number_or_words(engine: Engine, ctx: Context, channel: str, answer: str) -> None:
    chat = desk(engine, ctx, channel)
    chat.citizen("/richiesta K7M-R4P")
    chat.citizen(answer)
    chat.bot_says("op.declined", ticket="K7M-R4P")
    assert chat.effects(NeedDeclined) == [NeedDeclined("n1", "K7M-R4P", 3, 1, START)]
    assert chat.effects(NeedClaimed) == []


@pytest.mark.parametrize("answer", ["non la prendo", "3", "0", "ciao", "boh"])
def test_an_answer_that_picks_no_choice_claims_nothing(engine: Engine, ctx: Context, answer: str) -> None:
    chat = desk(engine, ctx, "whatsapp")
    chat.citizen("/richiesta K7M-R4P")
    chat.citizen(answer)
    assert chat.effects(NeedClaimed) == [] and chat.effects(NeedDeclined) == []


def test_the_choices_answer_only_the_next_message(engine: Engine, ctx: Context) -> None:
    """After any other message the number means what the new screen says, never an old claim."""
    chat = desk(engine, ctx, "console")
    chat.citizen("/richiesta K7M-R4P")
    chat.citizen("ciao")  # the home menu: "1" now means "Segnalare un bisogno"
    chat.citizen("1")
    assert chat.effects(NeedClaimed) == []
    assert chat.state.flow_id == "intake"


def test_a_command_typed_after_the_detail_is_that_command(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, "whatsapp")
    chat.citizen("/richiesta K7M-R4P")
    chat.citizen("nota K7M-R4P prendo le chiavi dalla vicina")  # words of a choice inside another command
    assert chat.effects(NeedClaimed) == []


def test_the_choices_of_a_flow_in_progress_win_over_the_detail(engine: Engine, ctx: Context) -> None:
    """/richiesta during the intake: the intake asks its question again last, and "1" answers that."""
    chat = desk(engine, ctx, "console")
    chat.consent()
    chat.citizen("ciao")
    chat.citizen("1")
    chat.bot_asks("intake.ask_category")
    chat.citizen("/richiesta K7M-R4P")
    chat.citizen("1")
    assert chat.effects(NeedClaimed) == []
    assert chat.state.answers["category"] == "anziani"  # the first topic of the list


def test_every_choice_of_the_desk_has_words_that_pick_it() -> None:
    options = claim_options("K7M-R4P")
    for option in options:
        assert option.aliases, option
        for word in option.aliases:
            assert match_option(options, choice=None, text=word) == option, word


# --- admins: "Confermi?" of the confirm-only commands (conversations/admin/confirm.py) ---


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
@pytest.mark.parametrize(("answer", "granted"), [("1", True), ("sì, confermo", True), ("2", False), ("no grazie", False)])
def test_the_confirmation_of_a_role_is_answered_by_number_or_words(
    engine: Engine, ctx: Context, channel: str, answer: str, granted: bool
) -> None:
    chat = staff_chat(engine, ctx, channel=channel)
    chat.citizen("/nomina_admin telegram 4242")
    chat.bot_asks("admin.confirm", options=["si", "no"])
    chat.citizen(answer)
    assert chat.effects() == ([RoleGranted(Role.ADMIN, "telegram", "4242", START)] if granted else [])
    assert chat.said() == ["admin.done" if granted else "admin.nothing_changed"]


def test_the_confirmation_of_an_operator_revocation_is_answered_by_number(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", operators=OPERATORS)
    chat.citizen("/revoca_operatore 3")
    chat.bot_asks("admin.confirm", options=["si", "no"])
    chat.citizen("1")
    assert chat.effects() == [OperatorRevoked(3, START)]


# --- admins: categories (conversations/admin/categories.py) ------------------------------


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_a_new_category_is_confirmed_by_number(engine: Engine, ctx: Context, channel: str) -> None:
    chat = staff_chat(engine, ctx, channel=channel, categories=CATEGORIES)
    for text in ("/nuova_categoria", "mobilita", "Mobilità", "Mobility"):
        chat.citizen(text)
    summary(chat)
    chat.citizen("1")
    assert chat.effects() == [CategoryAdded("mobilita", "Mobilità", "Mobility", START)]


def test_disabling_a_category_is_confirmed_in_words(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", categories=CATEGORIES)
    chat.citizen("/disattiva_categoria spesa")
    chat.citizen("va bene")
    assert chat.effects() == [CategoryDisabled("spesa", START)]


# --- admins: a cooperative's language, then "Confermi?" (conversations/admin/coop_flow.py) ---


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
@pytest.mark.parametrize(("answer", "language"), [("2", "en"), ("inglese", "en"), ("1", "it"), ("italiano", "it")])
def test_the_language_of_a_cooperative_is_chosen_by_number_or_name(
    engine: Engine, ctx: Context, channel: str, answer: str, language: str
) -> None:
    chat = staff_chat(engine, ctx, channel=channel, cooperative=CANTIERE_DETAIL, cooperatives=COOPS)
    chat.citizen("/modifica_cooperativa cantiere lingua")
    chat.bot_asks("admin.coop_ask_language_edit", options=["it", "en"])
    chat.citizen(answer)
    summary(chat)
    chat.citizen("1")
    assert chat.effects() == [CooperativeSaved(slug="cantiere", is_new=False, at=START, language=language)]


# --- admins: an announcement's preview (conversations/admin/broadcast.py) ------------------


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_an_announcement_is_sent_on_1_and_kept_on_2(engine: Engine, ctx: Context, channel: str) -> None:
    chat = staff_chat(engine, ctx, channel=channel)
    chat.citizen("/annuncio")
    load(chat, recipients=3)
    chat.citizen("Sportello chiuso lunedì")
    chat.bot_asks("admin.broadcast_preview", options=["si", "no"])
    chat.citizen("2")
    assert chat.said() == ["admin.nothing_changed"] and chat.effects() == []
    chat.citizen("/annuncio")
    chat.citizen("Sportello chiuso lunedì")
    chat.citizen("1")
    assert chat.effects() == [BroadcastRequested("Sportello chiuso lunedì", None, None, START)]


# --- everyone, staff included: their own rights (conversations/rights.py) -----------------


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_erasure_and_language_are_answered_by_number(engine: Engine, ctx: Context, channel: str) -> None:
    chat = staff_chat(engine, ctx, channel=channel)
    chat.citizen("/lingua")
    chat.bot_asks("rights.language_ask", options=["it", "en"])
    chat.citizen("2")
    assert chat.effects(LanguageChanged) == [LanguageChanged(language="en", at=START)]
    chat.citizen("/cancella_dati")
    chat.bot_asks("rights.erase_ask", options=["si", "no"])
    chat.citizen("1")
    assert chat.effects(DataErasureRequested) == [DataErasureRequested(at=START)]


def test_every_choice_of_every_flow_has_words_that_pick_it() -> None:
    """A new menu is answerable in words only if its options carry them: a label in the catalog is
    not known to the pure engine, so each option needs an alias (or a plain-text label)."""
    engine = build_engine()
    for flow in engine.flows.values():
        for step in flow.steps.values():
            if callable(step.options):
                continue  # built per turn from data (categories, comuni, languages): words are the data's names
            for option in step.options:
                words = (*option.aliases, *((option.label,) if isinstance(option.label, str) else ()))
                assert words, f"{flow.id}.{step.id}: option {option.payload!r} has no words"
