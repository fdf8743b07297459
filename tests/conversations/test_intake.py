"""Whole intake conversations, read top to bottom like the chat a citizen would have."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from conversations import ConsentGiven, ConsentRefused, ConversationCancelled, HelpOffered, Location, Media, MediaKind
from conversations import NeedCreated, NeedSummary
from tests.helpers.transcript import Chat

CATEGORIES = ["anziani", "disabilita", "famiglia", "salute", "spesa", "casa", "lavoro", "solitudine", "trasporto", "altro"]


def test_citizen_reports_a_need_by_typing_numbers(chat: Chat) -> None:
    chat.citizen("ciao")
    chat.bot_says("common.welcome")
    chat.bot_asks("menu.ask", options=["nuovo", "miei", "privacy"])

    chat.citizen("1")
    chat.bot_asks("intake.ask_consent", options=["si", "no"], step="consent")

    chat.citizen("1")
    chat.bot_asks("intake.ask_category", options=CATEGORIES)

    chat.citizen("5")
    chat.bot_asks("intake.ask_description")

    chat.citizen("Mia madre ha 85 anni e le serve aiuto per la spesa")
    chat.bot_asks("intake.ask_comune")

    chat.citizen("Ravenna")
    chat.bot_asks("intake.ask_urgency", options=["alta", "media", "bassa"])

    chat.citizen("1")
    chat.bot_asks("intake.ask_contact", options=["chat", "telefono"])

    chat.citizen("1")
    chat.bot_asks("intake.summary", options=["invia", "correggi"])
    summary = chat.bot_says("intake.summary")
    assert summary.params["comune"] == "Ravenna (RA)"
    assert summary.params["category"] == "Spesa e beni di prima necessità"

    chat.citizen("1")
    chat.bot_says("intake.done", ticket="K7M-R4P")

    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated)
    assert (need.category, need.comune_istat, need.urgency, need.contact_method) == ("spesa", "039014", "alta", "chat")
    assert need.description == "Mia madre ha 85 anni e le serve aiuto per la spesa"
    assert need.contact_phone is None
    assert len(chat.effects(ConsentGiven)) == 1
    assert not chat.state.is_active


def test_citizen_answers_with_words_a_typo_and_a_phone_call(chat: Chat) -> None:
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_consent")
    chat.citizen("sì, va bene")
    chat.citizen("spesa")
    chat.citizen("Ho bisogno di qualcuno che mi porti la spesa a casa")
    chat.citizen("ravena")
    chat.bot_asks("intake.ask_comune_confirm", options=["039014", "nessuno"])
    chat.citizen("1")
    chat.citizen("non urgente")
    chat.citizen("telefonata")
    chat.bot_asks("intake.ask_phone")
    chat.citizen("333 12")
    chat.bot_says("intake.retry_phone")
    chat.bot_asks("intake.ask_phone")
    chat.citizen("333 123 4567")
    chat.bot_asks("intake.summary")
    chat.citizen("sì")
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated)
    assert need.urgency == "bassa"
    assert need.contact_phone == "+393331234567"


def test_ambiguous_comune_name_asks_which_one(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")
    chat.citizen("altro")
    chat.citizen("Cerco un corso di italiano per mia moglie")
    chat.citizen("Castro")
    question = chat.bot_asks("intake.ask_comune_choice")
    labels = [o.label for o in question.options]
    assert "Castro (BG)" in labels and "Castro (LE)" in labels
    chat.citizen("Castro (LE)")
    chat.bot_asks("intake.ask_urgency")
    assert chat.state.answers["comune"] == {"istat": "075096", "name": "Castro", "province": "LE"}


def test_none_of_these_comuni_asks_the_name_again(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("altro")
    chat.citizen("Mi serve una mano con le bollette")
    chat.citizen("ravena")
    chat.citizen("nessuno")
    chat.bot_asks("intake.ask_comune")
    chat.citizen("48121")
    chat.bot_asks("intake.ask_urgency")


def test_correcting_the_comune_from_the_summary_returns_to_the_summary(chat: Chat) -> None:
    chat.consent()
    for answer in ("/nuovo", "casa", "Ho perso la casa e dormo in auto", "Ravenna", "urgente", "chat"):
        chat.citizen(answer)
    chat.bot_asks("intake.summary")
    chat.citizen("2")
    chat.bot_asks("intake.ask_correct", options=["category", "description", "comune", "urgency", "contact"])
    chat.citizen("comune")
    chat.bot_asks("intake.ask_comune")
    chat.citizen("Cervia")
    summary = chat.bot_says("intake.summary")
    assert summary.params["comune"] == "Cervia (RA)"
    chat.citizen("invia")
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated) and need.comune_istat == "039007"


def test_indietro_goes_back_one_question_and_keeps_going(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("salute")
    chat.bot_asks("intake.ask_description")
    chat.citizen("indietro")
    chat.bot_asks("intake.ask_category")
    chat.citizen("spesa")
    chat.bot_asks("intake.ask_description")
    assert chat.state.answers["category"] == "spesa"


def test_indietro_at_the_first_question_says_so(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("indietro")
    chat.bot_says("common.at_start")
    chat.bot_asks("intake.ask_category")


def test_annulla_cancels_and_records_nothing(chat: Chat) -> None:
    chat.citizen("/nuovo")
    chat.citizen("1")
    chat.citizen("2")
    chat.citizen("/annulla")
    chat.bot_says("common.cancelled")
    assert chat.effects(ConversationCancelled)
    assert not chat.effects(NeedCreated)
    assert not chat.state.is_active


def test_aiuto_explains_the_current_question_then_asks_it_again(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("anziani")
    chat.citizen("/aiuto")
    chat.bot_says("common.help_step")
    chat.bot_asks("intake.ask_description")


def test_refusing_consent_records_nothing_and_says_how_to_come_back(chat: Chat) -> None:
    chat.citizen("/start")
    chat.citizen("no")
    chat.bot_says("intake.refused")
    assert chat.effects(ConsentRefused)
    assert not chat.state.is_active


def test_consent_is_asked_once(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")


def test_three_wrong_answers_offer_help_instead_of_looping(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("banana")
    chat.bot_says("intake.retry_category")
    chat.citizen("42")
    chat.bot_says("intake.retry_category")
    chat.citizen("pippo")
    chat.bot_says("common.help_offer")
    chat.bot_asks("intake.ask_category")
    assert len(chat.effects(HelpOffered)) == 1
    assert chat.state.misses == 0


def test_empty_description_gets_an_example(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("altro")
    chat.citizen("   ")
    chat.bot_says("intake.retry_description_short")
    chat.bot_asks("intake.ask_description")


def test_a_description_longer_than_any_chat_message_is_refused_kindly(chat: Chat) -> None:
    # Telegram's longest message is 4096 characters and WhatsApp's 1600: only the console can send more.
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("altro")
    chat.citizen("aiuto " * 800)
    chat.bot_says("intake.retry_description_long", max=4096)
    chat.bot_asks("intake.ask_description")


def test_unknown_comune_gets_an_example(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("altro")
    chat.citizen("Serve compagnia per mio padre")
    chat.citizen("Atlantide")
    chat.bot_says("intake.retry_comune")


def test_idle_conversation_expires_and_the_citizen_is_told(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.wait(hours=25)
    chat.citizen("ciao")
    chat.bot_says("common.expired")
    chat.bot_asks("menu.ask")
    assert "category" not in chat.state.answers


def test_miei_lists_the_citizens_needs_without_leaving_the_question(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("/miei")
    chat.bot_says("needs.none")
    chat.bot_asks("intake.ask_category")


def test_privacy_shows_the_notice(chat: Chat) -> None:
    chat.citizen("/privacy")
    chat.bot_says("privacy.notice", controller="Cooperativa Esempio", retention_days=365)


def test_a_photo_is_kept_with_the_need(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("casa")
    chat.citizen(media=[Media(MediaKind.PHOTO, "file-1", "image/jpeg", 2048)])
    chat.bot_says("common.media_received")
    chat.bot_asks("intake.ask_description")
    chat.citizen(media=[Media(MediaKind.VOICE, "file-2", "audio/ogg", 4096)])
    chat.bot_says("common.voice_received")
    chat.citizen(location=Location(44.4184, 12.2035))
    chat.bot_says("common.location_received")
    for answer in ("Il tetto perde acqua in cucina", "Ravenna", "media", "chat", "invia"):
        chat.citizen(answer)
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated)
    assert [m.ref for m in need.media] == ["file-1", "file-2"]
    assert need.location == Location(44.4184, 12.2035)


def test_stale_button_is_refused_kindly(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    old_version = chat.state.version
    chat.citizen(choice="casa")
    chat.bot_asks("intake.ask_description")
    chat.citizen(choice="spesa", version=old_version)
    chat.bot_says("common.stale_button")
    chat.bot_asks("intake.ask_description")
    assert chat.state.answers["category"] == "casa"


def test_button_press_answers_like_typing(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen(choice="famiglia")
    chat.bot_asks("intake.ask_description")
    assert chat.state.answers["category"] == "famiglia"


def test_unsupported_message_gets_a_polite_answer(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen(unsupported=True)
    chat.bot_says("common.unsupported")
    chat.bot_asks("intake.ask_category")


def test_italian_wording_of_the_ticket_message(chat: Chat, translator: object) -> None:
    from conversations import Translator

    assert isinstance(translator, Translator)
    chat.consent()
    for answer in ("/nuovo", "spesa", "Mi serve aiuto per la spesa", "Ravenna", "1", "1", "1"):
        chat.citizen(answer)
    text = translator.render(chat.last.replies[-1], "it").text
    assert "Il tuo codice è K7M-R4P" in text
    english = translator.render(chat.last.replies[-1], "en").text
    assert "K7M-R4P" in english and "codice" not in english


def test_a_request_keeps_its_first_files_and_says_so_kindly(chat: Chat) -> None:
    """Issue 13: 200 messages × 10 media made one conversation 408 KB, rewritten every turn."""
    chat.ctx = replace(chat.ctx, attachments_per_need=3)
    photos = [Media(MediaKind.PHOTO, f"file-{n}", "image/jpeg", 2048) for n in range(5)]
    chat.citizen(media=photos[:2])  # no conversation: the photos start the intake
    chat.bot_says("common.media_received")
    chat.citizen(media=photos[2:])  # an album of three: one more fits
    chat.bot_says("common.media_limit", limit=3)
    chat.citizen(media=photos[:1])
    chat.bot_says("common.media_limit", limit=3)
    assert [m["ref"] for m in chat.state.answers["media"]] == ["file-0", "file-1", "file-2"]  # type: ignore[union-attr]


def test_the_day_s_new_requests_are_capped_and_the_citizen_learns_when_to_write_again(chat: Chat) -> None:
    now = chat.ctx.now
    recent = tuple(NeedSummary(f"T{n}", "Spesa", "nuova", now - timedelta(hours=h)) for n, h in enumerate((23, 5, 30)))
    chat.ctx = replace(chat.ctx, needs=recent, needs_per_day=2, has_consent=True)
    chat.citizen("/nuovo")
    chat.bot_says("intake.daily_limit", limit=2, when=now + timedelta(hours=1))  # the 23-hour-old one leaves the day
    assert chat.is_idle()
    chat.citizen(media=[Media(MediaKind.PHOTO, "file-1", "image/jpeg", 2048)])  # a photo would start one too
    chat.bot_says("intake.daily_limit")
    assert "media" not in chat.state.answers
    chat.wait(hours=1, seconds=1)
    chat.citizen("/nuovo")
    chat.bot_asks("intake.ask_category")
