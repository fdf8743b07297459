"""Ascolto understands what people mean: negations, yes and no in many words, intents in a phrase.

Each test is a rule of issue 14 with many phrasings, written the way people write: no accents,
typos, run-on sentences, voice-to-text style.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations import ConsentGiven, ConsentRefused, NeedCreated, NeedSummary
from conversations.engine import match_option
from conversations.flows.intake import CONFIRM_OPTIONS, CONSENT_OPTIONS, URGENCY_OPTIONS
from conversations.understanding import Intent, Polarity, intent_of, polarity
from conversations.understanding.polarity import NEGATORS, YES_PHRASES
from tests.helpers.clock import START
from tests.helpers.transcript import Chat


def _to_urgency(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen("Mi serve qualcuno che mi porti la spesa")
    chat.citizen("Ravenna")
    chat.bot_asks("intake.ask_urgency")


def _to_summary(chat: Chat) -> None:
    _to_urgency(chat)
    chat.citizen("3")
    chat.citizen("qui in chat")
    chat.bot_asks("intake.summary")


# --- 1. negation and polarity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "urgency"),
    [
        ("non è urgente", "bassa"),
        ("non e urgente", "bassa"),
        ("Non è molto urgente", "bassa"),
        ("not urgent", "bassa"),
        ("non c'è fretta", "bassa"),
        ("nessuna fretta grazie", "bassa"),
        ("non subito, ma nei prossimi giorni", "media"),
        ("non oggi ma nei prossimi giorni", "media"),
        ("è urgente", "alta"),
        ("urgentissimo!!", "alta"),
        ("subito per favore", "alta"),
    ],
)
def test_a_negated_option_word_never_selects_that_option(chat: Chat, answer: str, urgency: str) -> None:
    _to_urgency(chat)
    chat.citizen(answer)
    chat.bot_asks("intake.ask_contact")
    assert chat.state.answers["urgency"] == urgency


@pytest.mark.parametrize("answer", ["non urgentissimo no", "non so se è urgente", "mica tanto urgente"])
def test_a_negated_urgency_with_nothing_else_is_asked_again(chat: Chat, answer: str) -> None:
    _to_urgency(chat)
    chat.citizen(answer)
    chat.bot_asks("intake.ask_urgency")
    assert "urgency" not in chat.state.answers


# --- 2. yes and no in many words ------------------------------------------------------------


YES_WORDS = ["sì", "si", "Si certo", "certo", "esatto", "giusto", "d'accordo", "daccordo", "ok", "va bene", "yes",
             "va benissimo", "perfetto", "sì sì", "confermo", "nessun problema"]
NO_WORDS = ["no", "No grazie", "preferisco di no", "non sono d'accordo", "non va bene", "no no", "nope",
            "non accetto", "mica va bene"]


@pytest.mark.parametrize("answer", YES_WORDS)
def test_consent_accepts_yes_in_many_words(chat: Chat, answer: str) -> None:
    chat.citizen("/nuovo")
    chat.citizen(answer)
    chat.bot_asks("intake.ask_category")
    assert len(chat.effects(ConsentGiven)) == 1


@pytest.mark.parametrize("answer", NO_WORDS)
def test_consent_refused_in_many_words_records_nothing(chat: Chat, answer: str) -> None:
    chat.citizen("/nuovo")
    chat.citizen(answer)
    chat.bot_says("intake.refused")
    assert chat.effects(ConsentGiven) == [] and len(chat.effects(ConsentRefused)) == 1


@pytest.mark.parametrize("answer", YES_WORDS)
def test_the_summary_is_sent_on_any_yes(chat: Chat, answer: str) -> None:
    _to_summary(chat)
    chat.citizen(answer)
    chat.bot_says("intake.done")


@pytest.mark.parametrize(
    "answer", ["non va bene, il comune è sbagliato", "no", "no il comune e sbagliato", "è sbagliato", "non è giusto", "correggi"]
)
def test_a_no_at_the_summary_never_files_the_request(chat: Chat, answer: str) -> None:
    _to_summary(chat)
    chat.citizen(answer)
    chat.bot_asks("intake.ask_correct")
    assert chat.effects(NeedCreated) == []


@pytest.mark.parametrize("answer", ["sì ma il comune è sbagliato", "va bene, anzi no", "certo che no"])
def test_an_answer_with_both_a_yes_and_a_no_is_asked_again(chat: Chat, answer: str) -> None:
    _to_summary(chat)
    chat.citizen(answer)
    chat.bot_asks("intake.summary")
    assert chat.effects(NeedCreated) == []


@pytest.mark.parametrize(("answer", "comune"), [("sì", "039014"), ("si", "039014"), ("esatto", "039014"), ("1", "039014")])
def test_the_comune_confirmation_takes_yes(chat: Chat, answer: str, comune: str) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen("Ho bisogno di qualcuno che mi porti la spesa a casa")
    chat.citizen("ravena")
    chat.bot_asks("intake.ask_comune_confirm", options=["039014", "nessuno"])
    chat.citizen(answer)
    chat.bot_asks("intake.ask_urgency")
    assert isinstance(chat.state.answers["comune"], dict) and chat.state.answers["comune"]["istat"] == comune


@pytest.mark.parametrize("answer", ["no", "No, non è quello", "nessuno di questi", "non è Ravenna"])
def test_the_comune_confirmation_takes_no(chat: Chat, answer: str) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen("Ho bisogno di qualcuno che mi porti la spesa a casa")
    chat.citizen("ravena")
    chat.citizen(answer)
    chat.bot_asks("intake.ask_comune")


# --- 3. consent only from a clear yes; a no withdraws it ------------------------------------


@pytest.mark.parametrize("answer", ["boh forse", "va bene ma non voglio", "sì anzi no", "che dati?"])
def test_an_unclear_consent_is_explained_and_asked_again(chat: Chat, answer: str) -> None:
    chat.citizen("/nuovo")
    chat.citizen(answer)
    said = chat.said()
    assert said[-1] == "intake.ask_consent" and any(m in said for m in ("intake.retry_consent", "common.help_step"))
    assert chat.effects(ConsentGiven) == []


def test_a_no_after_a_yes_withdraws_the_consent_and_says_what_it_means(chat: Chat) -> None:
    chat.citizen("/nuovo")
    chat.citizen("sì")
    chat.bot_asks("intake.ask_category")
    chat.ctx = replace(chat.ctx, has_consent=True)  # the pipeline stored it with the turn
    chat.citizen("indietro")
    chat.bot_asks("intake.ask_consent")
    chat.citizen("2")
    chat.bot_says("intake.consent_withdrawn")
    assert len(chat.effects(ConsentRefused)) == 1
    assert not chat.state.is_active


# --- 6. go back, help, stop, I don't understand: at every question ---------------------------


@pytest.mark.parametrize("answer", ["torna indietro", "vorrei tornare indietro", "indietro per favore", "go back"])
def test_going_back_in_words_works_at_the_description(chat: Chat, answer: str) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.bot_asks("intake.ask_description")
    chat.citizen(answer if answer != "vorrei tornare indietro" else "voglio tornare indietro")
    chat.bot_asks("intake.ask_category")
    assert "description" not in chat.state.answers


@pytest.mark.parametrize("answer", ["non ho capito", "Scusi, non ho capito", "non capisco", "cosa devo scrivere?", "aiuto", "boh"])
def test_not_understanding_at_a_free_text_question_gets_help_not_a_saved_description(chat: Chat, answer: str) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen(answer)
    chat.bot_says("common.help_step")
    chat.bot_asks("intake.ask_description")
    assert "description" not in chat.state.answers


@pytest.mark.parametrize("answer", ["lascia perdere", "ho cambiato idea", "annulla tutto"])
def test_stopping_in_words_cancels_at_any_question(chat: Chat, answer: str) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen(answer)
    chat.bot_says("common.cancelled")
    assert not chat.state.is_active


def test_a_description_that_only_mentions_help_is_kept(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen("mia madre non ha capito come fare la spesa online, le serve aiuto")
    chat.bot_asks("intake.ask_comune")
    assert chat.state.answers["description"] == "mia madre non ha capito come fare la spesa online, le serve aiuto"


# --- 8. one's own requests by words; long descriptions; foreign numbers ----------------------


MINE = (NeedSummary(ticket="K7M-R4P", category_label="Spesa", status="presa_in_carico", created_at=START),)


@pytest.mark.parametrize("typed", ["K7M-R4P", "k7m r4p", "k7mr4p", " K7M-R4P "])
def test_typing_a_ticket_code_shows_that_request(chat: Chat, typed: str) -> None:
    chat.ctx = replace(chat.ctx, needs=MINE)
    chat.citizen(typed)
    shown = chat.bot_says("thread.need_menu")  # the request and what can be done with it (issue 15)
    assert shown.params["item"].params["ticket"] == "K7M-R4P"  # type: ignore[union-attr]
    chat.bot_asks("thread.need_menu", options=["informazioni", "ritirare"])  # nobody to write to without an id


def test_a_ticket_code_that_is_not_theirs_says_so_kindly(chat: Chat) -> None:
    chat.citizen("ACD-E79")
    chat.bot_says("needs.not_found", ticket="ACD-E79")


@pytest.mark.parametrize(
    "asked",
    [
        "chi se ne occupa della mia richiesta?",
        "voglio aggiungere una cosa alla richiesta di prima",
        "a che punto è la mia richiesta",
        "le mie richieste",
        "ci sono novità sulla mia segnalazione?",
    ],
)
def test_asking_about_my_request_shows_my_requests_not_a_new_one(chat: Chat, asked: str) -> None:
    chat.ctx = replace(chat.ctx, needs=MINE)
    chat.citizen(asked)
    chat.bot_says("needs.list")
    assert chat.state.flow_id != "intake"


def test_at_the_menu_a_question_about_my_request_is_not_a_new_request(chat: Chat) -> None:
    chat.citizen("ciao")
    chat.bot_asks("menu.ask")
    chat.citizen("chi se ne occupa della mia richiesta?")
    chat.bot_says("needs.none")
    assert chat.state.flow_id != "intake"


def test_a_long_description_is_kept_whole(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    long = ("Mia madre ha novant'anni, vive da sola al terzo piano senza ascensore e non riesce più a uscire. " * 30).strip()
    assert len(long) > 1000
    chat.citizen(long)
    chat.bot_asks("intake.ask_comune")
    assert chat.state.answers["description"] == long


@pytest.mark.parametrize(("typed", "stored"), [("+44 7911 123456", "+447911123456"), ("+49 1512 3456789", "+4915123456789"), ("333 123 4567", "+393331234567")])
def test_foreign_mobile_numbers_are_accepted(chat: Chat, typed: str, stored: str) -> None:
    _to_urgency(chat)
    chat.citizen("3")
    chat.citizen("telefono")
    chat.citizen(typed)
    chat.bot_asks("intake.summary")
    assert chat.state.answers["phone"] == stored


# --- the layer itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [("torna indietro", Intent.BACK), ("non ho capito", Intent.CONFUSED), ("lascia perdere", Intent.STOP),
     ("aiuto per favore", Intent.HELP), ("mia mamma ha bisogno di compagnia", None), ("la spesa", None)],
)
def test_intents_are_whole_phrases(text: str, intent: Intent | None) -> None:
    assert intent_of(text) == intent


NEGATIONS = sorted(NEGATORS) + ["don't", "isn't", "can't", "doesn't", "won't"]
YES = sorted(YES_PHRASES - {"nessun problema", "non c e problema", "no problem"})
FILLER = st.text(alphabet=st.sampled_from("abcdefghilmnoprstuvz ,.!?'"), max_size=20)


@settings(max_examples=400, deadline=None)
@given(before=FILLER, negation=st.sampled_from(NEGATIONS), yes=st.sampled_from(YES), after=FILLER)
def test_no_answer_with_a_negated_yes_is_ever_a_yes(before: str, negation: str, yes: str, after: str) -> None:
    answer = f"{before} {negation} {yes} {after}"
    assert polarity(answer) != Polarity.YES
    for options in (CONSENT_OPTIONS, CONFIRM_OPTIONS):
        picked = match_option(options, choice=None, text=answer)
        assert picked is None or picked.means != "yes", (answer, picked)


def test_urgency_options_keep_their_order() -> None:
    assert [o.payload for o in URGENCY_OPTIONS] == ["alta", "media", "bassa"]


@pytest.mark.parametrize(("answer", "meaning"), [("sì, proprio così", "si"), ("non è così", "no"), ("non va bene", "no"),
                                                  ("va bene", "si"), ("sì, anzi no", None)])
def test_the_suggested_category_question_takes_yes_and_no_in_many_words(answer: str, meaning: str | None) -> None:
    from conversations.flows.intake import SUGGESTION_OPTIONS

    picked = match_option(SUGGESTION_OPTIONS, choice=None, text=answer)
    assert (picked.payload if picked is not None else None) == meaning
