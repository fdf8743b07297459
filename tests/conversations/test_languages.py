"""Issue 14, rule 7: a first message in another language is answered in it (or in English), never with "Non ho capito la scelta".

The detector is the real one (`bot.suggest.LanguageDetector`, py3langid): cheap to load, and the
point is how people really write.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.suggest import LanguageDetector
from conversations import Context, Engine, LanguageChanged, RightsExercised
from tests.helpers.clock import START, FakeClock
from tests.helpers.transcript import Chat

DATA = Path(__file__).resolve().parents[1] / "data" / "first_messages.tsv"
FIRST = [tuple(line.rstrip("\n").split("\t")) for line in DATA.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
DETECTOR = LanguageDetector()


def chat_in(engine: Engine, ctx: Context, language: str = "it") -> Chat:
    return Chat(engine, replace(ctx, language=language, detect_language=DETECTOR.detect), FakeClock(START))


def test_the_english_speaker_of_the_issue_is_answered_in_english(engine: Engine, ctx: Context) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen("Hello, I need help please. I don't speak Italian.")
    assert chat.said() == ["common.welcome", "rights.language_offer"]  # welcome and offer, both rendered in English
    assert chat.effects() == [LanguageChanged(language="en", at=START)]
    chat.bot_asks("rights.language_offer", options=["en", "it"], step="confirm")
    chat.citizen("yes please")
    assert chat.said() == ["rights.language_set", "menu.ask"]
    assert chat.effects(RightsExercised) == [RightsExercised(right="lingua", at=START)]
    assert chat.effects(LanguageChanged) == [LanguageChanged(language="en", at=START)]  # kept, not switched back


def test_choosing_italiano_at_the_offer_switches_back(engine: Engine, ctx: Context) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen("Hi, can you help me?")
    chat.citizen("Italiano")
    assert chat.effects(LanguageChanged) == [LanguageChanged("en", START), LanguageChanged("it", START)]
    chat.bot_asks("menu.ask")


@pytest.mark.parametrize(
    ("answer", "language"),
    [("what is this?", "en"), ("I need food for my kids", "en"), ("no grazie, preferisco scrivere in italiano", "it"), ("1", "en"), ("2", "it")],
)
def test_any_answer_to_the_offer_is_understood(engine: Engine, ctx: Context, answer: str, language: str) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen("Good morning, my mother is ill and lives alone")
    chat.citizen(answer)
    assert "common.retry_choice" not in chat.said() and "menu.retry" not in chat.said()
    assert chat.said()[0] == "rights.language_set"
    changed = chat.effects(LanguageChanged)
    assert isinstance(changed[-1], LanguageChanged) and changed[-1].language == language


@pytest.mark.parametrize(("language", "text"), [(lang, text) for lang, text in FIRST if lang != "it"])
def test_a_foreign_first_message_never_gets_the_italian_menu(engine: Engine, ctx: Context, language: str, text: str) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen(text)
    if chat.said() == ["common.welcome", "menu.ask"]:
        assert DETECTOR.detect(text) is None  # too short to tell ("hello"): the menu, which has numbers
        return
    chat.bot_asks("rights.language_offer")
    offered = "en" if language not in ctx.languages else language
    assert chat.effects() == [LanguageChanged(language=offered, at=START)]


@pytest.mark.parametrize("text", [text for lang, text in FIRST if lang == "it"])
def test_an_italian_first_message_is_never_offered_another_language(engine: Engine, ctx: Context, text: str) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen(text)
    assert "rights.language_offer" not in chat.said()
    assert not chat.effects(LanguageChanged)


def test_someone_already_written_to_in_english_is_not_asked_again(engine: Engine, ctx: Context) -> None:
    chat = chat_in(engine, ctx, language="en")
    chat.citizen("Hello, I need help please")
    assert chat.said() == ["common.welcome", "menu.ask"]


def test_an_english_reader_writing_italian_is_offered_italian(engine: Engine, ctx: Context) -> None:
    chat = chat_in(engine, ctx, language="en")
    chat.citizen("buongiorno, vorrei segnalare un problema")
    chat.bot_asks("rights.language_offer", options=["it", "en"])
    assert chat.effects() == [LanguageChanged(language="it", at=START)]


def test_without_a_detector_the_menu_as_before(engine: Engine, ctx: Context) -> None:
    chat = Chat(engine, ctx, FakeClock(START))
    chat.citizen("Hello, I need help please. I don't speak Italian.")
    assert chat.said() == ["common.welcome", "menu.ask"]


@pytest.mark.parametrize("text", ["I need help", "Do you speak English?", "Je ne parle pas italien", "Necesito ayuda por favor"])
def test_a_foreign_answer_at_the_menu_gets_the_offer_not_non_ho_capito(engine: Engine, ctx: Context, text: str) -> None:
    chat = chat_in(engine, ctx)
    chat.citizen("hello")  # too short to tell: the menu
    chat.bot_asks("menu.ask")
    chat.citizen(text)
    assert "menu.retry" not in chat.said()
    chat.bot_asks("rights.language_offer", step="confirm")
    assert chat.effects(LanguageChanged) == [LanguageChanged(language="en", at=START)]


# --- adding a language is only a catalog ------------------------------------------------


def test_a_third_catalog_is_discovered_offered_and_listed(engine: Engine, ctx: Context, tmp_path: Path) -> None:
    import shutil

    from conversations import Translator

    locales = Path(__file__).resolve().parents[2] / "locales"
    for lang in ("it", "en"):
        shutil.copytree(locales / lang, tmp_path / lang)
    (tmp_path / "fr" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(locales / "en" / "LC_MESSAGES" / "ascolto.po", tmp_path / "fr" / "LC_MESSAGES" / "ascolto.po")
    translator = Translator(tmp_path)
    assert translator.languages == ("it", "en", "fr")

    chat = Chat(engine, replace(ctx, languages=translator.languages, detect_language=DETECTOR.detect), FakeClock(START))
    chat.citizen("Bonjour, j'ai besoin d'aide s'il vous plaît")
    chat.bot_asks("rights.language_offer", options=["fr", "it"])
    assert chat.effects() == [LanguageChanged(language="fr", at=START)]
    chat.citizen("/lingua")
    question = chat.bot_asks("rights.language_ask")
    assert [(o.payload, o.label) for o in question.options] == [("it", "Italiano"), ("en", "English"), ("fr", "Français")]
    chat.citizen("francese")
    assert chat.effects(LanguageChanged)[-1] == LanguageChanged(language="fr", at=START)


@pytest.mark.parametrize("text", ["/statistiche", "/xyzzy", "buongiorno", "/nuovo"])
def test_a_command_or_a_single_word_never_switches_language(engine: Engine, ctx: Context, text: str) -> None:
    chat = chat_in(engine, ctx, language="en")
    chat.citizen(text)
    assert "rights.language_offer" not in chat.said() and not chat.effects(LanguageChanged)
