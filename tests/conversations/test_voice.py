"""Voice notes understood (issue 16), read like the chat: the note, "lo sto ascoltando", then its words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import Context, Engine, HeardOutcome, Media, MediaKind, Msg, NeedCreated, VoiceNoteQueued
from tests.helpers.transcript import Chat

SAID = "Mi serve aiuto per fare la spesa, mia madre non esce di casa."


def voice(ref: str) -> Media:
    return Media(MediaKind.VOICE, ref, "audio/ogg", 6000)


@pytest.fixture
def listening(chat: Chat) -> Chat:
    chat.ctx = replace(chat.ctx, listens=True)
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.bot_asks("intake.ask_description")
    return chat


def finish(chat: Chat) -> NeedCreated:
    for answer in ("Ravenna", "media", "chat", "invia"):
        chat.citizen(answer)
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated)
    return need


def test_a_description_told_by_voice_is_read_back_and_kept_on_yes(listening: Chat) -> None:
    chat = listening
    chat.citizen(media=[voice("nota-1")])
    assert chat.said() == ["voice.listening"]  # nothing asked again: the words are coming
    assert chat.effects(VoiceNoteQueued) == [VoiceNoteQueued("nota-1", "audio/ogg", "description", chat.clock.now)]

    chat.heard("nota-1", SAID)
    chat.bot_says("voice.heard_confirm", text=SAID)
    chat.bot_asks("voice.heard_confirm", options=["si", "no"])

    chat.citizen("sì")
    chat.bot_asks("intake.ask_comune")
    need = finish(chat)
    assert need.description == SAID
    assert [(m.ref, m.transcript) for m in need.media] == [("nota-1", SAID)]


def test_a_no_to_the_words_read_back_lets_the_citizen_try_again_or_write(listening: Chat) -> None:
    chat = listening
    chat.citizen(media=[voice("nota-1")])
    chat.heard("nota-1", "Mi serve aiuto per fare la sera")
    chat.citizen("no")
    chat.bot_says("voice.heard_no")
    chat.bot_asks("intake.ask_description")

    chat.citizen("Mi serve aiuto per fare la spesa")
    chat.bot_asks("intake.ask_comune")
    need = finish(chat)
    assert need.description == "Mi serve aiuto per fare la spesa"
    assert [m.ref for m in need.media] == ["nota-1"]  # the audio stays with the request


def test_words_typed_instead_of_yes_are_the_description(listening: Chat) -> None:
    chat = listening
    chat.citizen(media=[voice("nota-1")])
    chat.heard("nota-1", "Mi serve aiuto per fare la sera")
    chat.citizen("Aiuto per la spesa di mia madre")
    chat.bot_asks("intake.ask_comune")
    assert finish(chat).description == "Aiuto per la spesa di mia madre"


def test_urgency_answered_by_voice_is_understood_like_typed_words(listening: Chat) -> None:
    chat = listening
    chat.citizen("Aiuto per la spesa di mia madre")
    chat.citizen("Ravenna")
    chat.bot_asks("intake.ask_urgency", options=["alta", "media", "bassa"])
    chat.citizen(media=[voice("nota-2")])
    assert chat.said() == ["voice.listening"]

    chat.heard("nota-2", "Non è urgente.")
    chat.bot_asks("intake.ask_contact")
    assert chat.state.answers["urgency"] == "bassa"  # "urgente" under a negation is not urgent


@pytest.mark.parametrize(
    ("outcome", "msgid"),
    [(HeardOutcome.EMPTY, "voice.empty"), (HeardOutcome.TOO_LONG, "voice.too_long"), (HeardOutcome.FAILED, "voice.failed")],
)
def test_a_note_without_words_gets_a_kind_word_and_stays_with_the_need(
    listening: Chat, outcome: HeardOutcome, msgid: str
) -> None:
    chat = listening
    chat.citizen(media=[voice("nota-1")])
    chat.heard("nota-1", outcome=outcome)
    chat.bot_says(msgid)
    chat.bot_asks("intake.ask_description")
    chat.citizen("Aiuto per la spesa")
    need = finish(chat)
    assert [(m.ref, m.transcript) for m in need.media] == [("nota-1", None)]


def test_words_that_come_after_the_conversation_moved_on_interrupt_nobody(listening: Chat) -> None:
    chat = listening
    chat.citizen(media=[voice("nota-1")])
    chat.citizen("Aiuto per la spesa")  # typed while the note was being heard
    chat.bot_asks("intake.ask_comune")
    chat.heard("nota-1", SAID)
    assert chat.last.replies == ()
    chat.citizen("Ravenna")
    chat.bot_asks("intake.ask_urgency")
    for answer in ("media", "chat", "invia"):
        chat.citizen(answer)
    [need] = chat.effects(NeedCreated)
    assert isinstance(need, NeedCreated)
    assert need.description == "Aiuto per la spesa"
    assert [(m.ref, m.transcript) for m in need.media] == [("nota-1", SAID)]  # operators still read it


def test_where_notes_are_not_heard_the_bot_asks_to_write_as_before(chat: Chat) -> None:
    chat.consent()
    chat.citizen("/nuovo")
    chat.citizen("spesa")
    chat.citizen(media=[voice("nota-1")])
    chat.bot_says("common.voice_received")
    chat.bot_asks("intake.ask_description")
    assert chat.effects(VoiceNoteQueued) == []


def test_operators_read_the_words_next_to_the_audio(engine: Engine, ctx: Context) -> None:
    from tests.conversations.test_operator_desk import OURS, desk

    chat = desk(engine, ctx, need=replace(OURS, description=SAID, voice_notes=(SAID, None)))
    chat.citizen("/richiesta K7M-R4P")
    msg = chat.bot_says("op.need_detail", ticket="K7M-R4P")
    assert msg.params["description"] == Msg(
        "op.description_with_voice",
        {"description": SAID, "voice": (Msg("op.voice_note", {"text": SAID}), Msg("op.voice_note_unheard"))},
    )
