"""Issue 14, rule 5: the need told in one's own words — kept as the description, its category suggested and confirmed.

The suggestion model lives in bot/ (tests/bot/test_understanding.py runs the real one); here a
deterministic stand-in plays its part, so these transcripts test what the flows do with it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import Context, Engine, NeedCreated
from conversations.types import Suggest
from tests.helpers.categories import seeded
from tests.helpers.clock import START, FakeClock
from tests.helpers.transcript import Chat

LONELY = "le giornate non passano mai e vorrei qualcuno vicino"  # no category's word: only the model can tell


def suggesting(slug: str | None) -> Suggest:
    return lambda text: ((slug, 0.05),) if slug is not None else ()


def told_chat(engine: Engine, ctx: Context, slug: str | None, *, consent: bool = True) -> Chat:
    return Chat(engine, replace(ctx, categories=seeded(), has_consent=consent, suggest=suggesting(slug)), FakeClock(START))


def test_a_sentence_at_the_category_question_is_suggested_confirmed_and_kept(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "solitudine")
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")
    chat.citizen(LONELY)
    chat.bot_asks("intake.ask_category_suggested", options=["si", "no"], step="category_confirm")
    chat.bot_says("intake.ask_category_suggested", category="Solitudine e compagnia")
    chat.citizen("sì, esatto")
    chat.bot_asks("intake.ask_comune")  # told already: the description is not asked
    assert (chat.state.answers["category"], chat.state.answers["description"]) == ("solitudine", LONELY)
    for answer in ("Ravenna", "nessuna fretta", "chat", "invia"):
        chat.citizen(answer)
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated) and (need.category, need.description) == ("solitudine", LONELY)


@pytest.mark.parametrize("no", ["no", "2", "no, è un'altra cosa", "sbagliato"])
def test_no_to_the_suggestion_shows_the_list_and_keeps_the_words(engine: Engine, ctx: Context, no: str) -> None:
    chat = told_chat(engine, ctx, "anziani")
    chat.citizen("/nuovo")
    chat.citizen(LONELY)
    chat.bot_says("intake.ask_category_suggested", category="Assistenza domiciliare e anziani")
    chat.citizen(no)
    chat.bot_asks("intake.ask_category_told", step="category")
    chat.citizen("8")
    chat.bot_asks("intake.ask_comune")
    assert (chat.state.answers["category"], chat.state.answers["description"]) == ("solitudine", LONELY)


def test_unsure_shows_the_list_instead_of_guessing(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, None)
    chat.citizen("/nuovo")
    chat.citizen(LONELY)
    chat.bot_asks("intake.ask_category_told", step="category")
    assert not chat.state.answers.get("category") and chat.state.answers["description"] == LONELY
    chat.citizen("solitudine")
    chat.bot_asks("intake.ask_comune")


def test_a_need_told_as_the_first_message_starts_the_intake_with_it(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "solitudine", consent=False)
    chat.citizen("Buongiorno, mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia")
    assert chat.said()[0] == "common.welcome"
    chat.bot_asks("intake.ask_consent", step="consent")
    chat.citizen("sì")
    chat.bot_asks("intake.ask_category_suggested", step="category_confirm")
    chat.citizen("si")
    chat.bot_asks("intake.ask_comune")
    assert chat.state.answers["description"].startswith("Buongiorno, mia mamma")  # type: ignore[union-attr]


def test_with_consent_a_first_message_goes_straight_to_the_suggestion(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "spesa")
    chat.citizen("non riesco più ad andare al supermercato, è troppo lontano")
    assert chat.said() == ["common.welcome", "intake.ask_category_suggested"]


def test_a_need_told_at_the_menu_starts_the_intake_with_it(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "casa")
    chat.citizen("ciao")
    chat.bot_asks("menu.ask")
    chat.citizen("il padrone mi ha mandato la lettera di sfratto")
    chat.bot_says("intake.ask_category_suggested", category="Casa e abitare")


@pytest.mark.parametrize(
    "text",
    ["ciao", "buongiorno a tutti", "vorrei sapere come funziona il servizio", "chi siete e cosa fate di preciso"],
)
def test_a_first_message_about_no_need_gets_the_menu(engine: Engine, ctx: Context, text: str) -> None:
    chat = told_chat(engine, ctx, None)
    chat.citizen(text)
    assert chat.said() == ["common.welcome", "menu.ask"]


def test_the_told_description_can_be_corrected_from_the_summary(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "solitudine")
    for answer in ("/nuovo", LONELY, "sì", "Ravenna", "nessuna fretta", "chat"):
        chat.citizen(answer)
    chat.bot_asks("intake.summary")
    chat.citizen("correggi")
    chat.citizen("descrizione")
    chat.bot_asks("intake.ask_description")  # asked when correcting, although told before
    chat.citizen("Mia madre vive sola e vorrebbe compagnia il pomeriggio")
    summary = chat.bot_says("intake.summary")
    assert summary.params["description"] == "Mia madre vive sola e vorrebbe compagnia il pomeriggio"


def test_back_from_the_comune_returns_to_the_suggestion(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "solitudine")
    for answer in ("/nuovo", LONELY, "sì"):
        chat.citizen(answer)
    chat.bot_asks("intake.ask_comune")
    chat.citizen("indietro")
    chat.bot_asks("intake.ask_category_suggested")


def test_a_foreign_suggestion_for_a_disabled_category_is_ignored(engine: Engine, ctx: Context) -> None:
    chat = told_chat(engine, ctx, "vecchia")  # not among the active categories
    chat.citizen("/nuovo")
    chat.citizen(LONELY)
    chat.bot_asks("intake.ask_category_told")


@pytest.mark.parametrize(
    "text",
    [
        "buongiorno a tutti voi della cooperativa",
        "buonasera, come state oggi?",
        "grazie mille per l'aiuto di ieri",
    ],
)
def test_a_first_message_naming_no_category_gets_the_menu_whatever_the_model_says(engine: Engine, ctx: Context, text: str) -> None:
    chat = told_chat(engine, ctx, "solitudine")  # a model that always has an idea
    chat.citizen(text)
    assert chat.said() == ["common.welcome", "menu.ask"]
