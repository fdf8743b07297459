"""Issue 14, rule 4: options matched by meaning — lemmas of the answer against an option's label and synonyms."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import Context, Engine, Option, match_option
from conversations.flows.intake import is_told
from conversations.understanding.meaning import by_meaning, lemmas, split_synonyms, vocabulary
from tests.helpers.categories import seeded
from tests.helpers.clock import FakeClock, START
from tests.helpers.transcript import Chat


@pytest.fixture
def seeded_chat(engine: Engine, ctx: Context) -> Chat:
    """A citizen with consent, at the category question, the categories with their seeded synonyms."""
    chat = Chat(engine, replace(ctx, categories=seeded(), has_consent=True), FakeClock(START))
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")
    return chat


def test_the_lonely_mother_of_the_issue_is_understood_even_without_synonyms(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")
    chat.citizen("mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia")
    chat.bot_asks("intake.ask_category_suggested", options=["si", "no"], step="category_confirm")
    chat.bot_says("intake.ask_category_suggested", category="Solitudine e compagnia")
    chat.citizen("sì")
    assert chat.state.answers["category"] == "solitudine"
    # A whole sentence told the need too: it is the description, not asked again (rule 5).
    assert chat.state.answers["description"] == "mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia"
    chat.bot_asks("intake.ask_comune")


PHRASINGS = {
    "solitudine": [
        "mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia",
        "mi sento tanto sola da quando è morto mio marito",
        "vivo solo e non ho nessuno con cui parlare",
        "vorrei qualcuno per fare due chiacchiere ogni tanto",
        "mio padre è triste e isolato",
        "cerco compagnie, le giornate sono lunghe",
    ],
    "spesa": [
        "non riesco ad andare al supermercato",
        "ci serve un pacco alimentare, non abbiamo da mangiare",
        "non ho soldi per il cibo",
        "mi servirebbe chi mi compra il pane",
    ],
    "salute": [
        "devo ritirare le medicine in farmacia",
        "mi servono i farmaci ma non posso uscire",
        "ho bisogno di una visita dal dottore",
        "mio marito è malato e deve fare degli esami",
    ],
    "trasporto": [
        "qualcuno che mi accompagni alla visita",
        "mi serve un passaggio in macchina",
        "non ci sono autobus per arrivare in città",
    ],
    "casa": [
        "non riesco a pagare l'affitto",
        "mi hanno dato lo sfratto",
        "le bollette sono troppo alte e non ho il riscaldamento",
    ],
    "lavoro": [
        "sono disoccupato da un anno",
        "mi hanno licenziata e cerco un impiego",
        "vorrei fare un tirocinio",
    ],
    "famiglia": [
        "i miei bambini hanno bisogno del doposcuola",
        "sono incinta e sono preoccupata",
        "mio figlio piccolo non ha posto all'asilo",
    ],
    "disabilita": [
        "mio fratello è in carrozzina",
        "mio cugino è autistico",
        "sono invalido al 100%",
    ],
    "anziani": [
        "mia suocera è anziana e ha bisogno di una badante",
        "mio nonno non è più autosufficiente",
        "papà ha l'alzheimer",
    ],
}


@pytest.mark.parametrize(("slug", "text"), [(s, t) for s, texts in PHRASINGS.items() for t in texts])
def test_many_phrasings_select_their_category(seeded_chat: Chat, slug: str, text: str) -> None:
    """A few words select it at once; a sentence is weighed whole and its category confirmed."""
    seeded_chat.citizen(text)
    if is_told(text):
        seeded_chat.bot_asks("intake.ask_category_suggested", step="category_confirm")
        seeded_chat.citizen("si")
    assert seeded_chat.state.answers.get("category") == slug, seeded_chat.said()


@pytest.mark.parametrize("text", ["nonni isolati", "mah", "sono stanco", "figli e impieghi"])
def test_a_short_answer_that_means_two_categories_or_none_is_asked_again(seeded_chat: Chat, text: str) -> None:
    seeded_chat.citizen(text)  # "nonni isolati": older people and loneliness, one word each
    assert not seeded_chat.state.answers.get("category")
    seeded_chat.bot_says("intake.retry_category")
    seeded_chat.bot_asks("intake.ask_category")


@pytest.mark.parametrize(
    "text",
    [
        "i miei figli non trovano impieghi da mesi",  # family and work, one lemma each
        "i nonni qui sono isolati da tutti",  # older people and loneliness
        "non so bene come spiegarlo a voce",
    ],
)
def test_a_sentence_that_means_two_categories_or_none_is_kept_and_the_list_shown(seeded_chat: Chat, text: str) -> None:
    seeded_chat.citizen(text)
    assert not seeded_chat.state.answers.get("category")
    assert seeded_chat.state.answers["description"] == text  # kept, not thrown away
    seeded_chat.bot_asks("intake.ask_category_told", step="category")
    seeded_chat.citizen("lavoro")
    seeded_chat.bot_asks("intake.ask_comune")  # the description is not asked again
    assert seeded_chat.state.answers["description"] == text


def test_lemmas_drop_stop_words_and_find_dictionary_forms() -> None:
    assert lemmas("mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia") == (
        "mamma",
        "anno",
        "sentire",
        "solo",
        "compagnia",
    )
    assert lemmas("Le mie bollette!") == ("bolletta",)


def test_a_synonym_of_several_words_counts_only_whole() -> None:
    wheel = Option("disabilita", "Disabilità", ("sedia a rotelle",))
    chair = Option("casa", "Casa", ("sedia",))
    assert by_meaning((wheel, chair), "mi serve una sedia a rotelle") == wheel  # two words covered against one
    assert by_meaning((wheel,), "mi serve una sedia") is None
    assert (("sedia", "sedia"), ("rotella", "rotelle")) in vocabulary(None, ("sedia a rotelle",))


def test_a_misspelt_word_still_counts() -> None:
    options = (Option("solitudine", "Solitudine e compagnia"), Option("spesa", "Spesa e beni di prima necessità"))
    assert by_meaning(options, "vorrei un po di compagnai") == options[0]
    assert by_meaning(options, "solitudne") == options[0]


def test_meaning_is_one_stage_of_match_option_after_words() -> None:
    options = (Option("spesa", "Spesa", ("supermercato",)), Option("salute", "Salute", ("farmacia",)))
    assert match_option(options, choice=None, text="farmacia") == options[1]  # the exact word first
    assert match_option(options, choice=None, text="vado spesso ai supermercati") == options[0]  # by lemma
    assert match_option(options, choice=None, text="vado spesso ai supermercati e in farmacia") == options[1]


def test_synonyms_are_split_on_commas_and_kept_once() -> None:
    assert split_synonyms("sola, compagnia;  nessuno  con cui parlare,, Sola\nx") == (
        "sola",
        "compagnia",
        "nessuno con cui parlare",
        "x",
    )


SHORT = {
    "solitudine": ["mi sento sola", "compagnia", "solitudne", "lonely"],
    "spesa": ["supermercati", "pacchi alimentari", "fame"],
    "salute": ["farmaci", "le medicine", "ricette"],
    "trasporto": ["un passaggio", "accompagnamenti", "taxi"],
    "casa": ["affitto", "sfratto", "le bollette"],
    "lavoro": ["disoccupata", "tirocini", "un impiego"],
    "famiglia": ["i bimbi", "doposcuola", "gravidanza"],
    "disabilita": ["carrozzina", "sedia a rotelle", "invalida"],
    "anziani": ["badante", "mio nonno", "alzheimer"],
}


@pytest.mark.parametrize(("slug", "text"), [(s, t) for s, texts in SHORT.items() for t in texts])
def test_a_few_words_select_their_category_at_once(seeded_chat: Chat, slug: str, text: str) -> None:
    seeded_chat.citizen(text)
    assert seeded_chat.state.answers.get("category") == slug, seeded_chat.said()
    seeded_chat.bot_asks("intake.ask_description")
