"""Voice notes heard on our server (issue 16), end to end on Telegram: PTB's getFile against the fake, the
real model on the committed clips (tests/data/voice), the pipeline and the store.

The model is loaded once for the module; where it is not installed these tests say so and skip
(`make test` installs it from requirements.lock, so there they run).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.jobs.retention import apply_retention
from bot.speech import Heard, Speech, is_installed
from bot.voice import NICENESS, Transcriber, VoicePolicy
from conversations import HeardOutcome, Urgency
from storage import conversations, voice
from storage.db import transaction
from storage.models import Citizen, Conversation, Need, NeedAttachment, VoiceNote
from tests.bot.channels.test_telegram import CHAT, Running, count, running_telegram
from tests.bot.channels.test_whatsapp import BY_NUMBERS
from tests.bot.test_media import files, media_rig
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers.clock import FakeClock

CLIPS = Path(__file__).resolve().parents[1] / "data" / "voice"
CACHE = Path(__file__).resolve().parents[2] / "var" / "cache"
NEEDS_MODEL = pytest.mark.skipif(
    not is_installed(), reason="faster-whisper and the Whisper base wheels are not installed (make catalogs installs them)"
)


@pytest.fixture(scope="module")
def speech() -> Speech:
    if not is_installed():
        pytest.skip("faster-whisper and the Whisper base wheels are not installed (make catalogs installs them)")
    heard = Speech(cache=CACHE, cpu_threads=2)
    heard.load()
    return heard


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as running:
        yield running


class Crashing:
    """A transcriber that dies on every note (a broken model file, an out-of-memory kill)."""

    def hear(self, audio: Path, *, max_seconds: float) -> Heard:
        raise RuntimeError("the model crashed")


def transcriber(tg: Running, speech: object, audio_dir: Path, *, max_seconds: float = 10.0) -> Transcriber:
    assert tg.channel.fetch_audio is not None
    policy = VoicePolicy(audio_dir=audio_dir, max_seconds=max_seconds, max_attempts=1)
    return Transcriber(tg.core.sessions, speech, tg.core.pipeline.handle, {tg.channel.name: tg.channel.fetch_audio}, policy=policy)  # type: ignore[arg-type]


async def send_clip(tg: Running, name: str) -> None:
    await tg.deliver(tg.fake.push_voice(CHAT, (CLIPS / f"{name}.ogg").read_bytes()))


async def to_description(tg: Running) -> None:
    for text in ("/nuovo", "1", "5"):
        await tg.say(text)
    assert tg.texts()[-1] == tg.t("intake.ask_description")


async def finish(tg: Running) -> None:
    for text in ("Ravenna", "2", "1", "1"):
        await tg.say(text)


async def the_need(tg: Running) -> tuple[Need, list[NeedAttachment]]:
    async with tg.core.sessions() as session:
        need = (await session.execute(select(Need))).scalar_one()
        files = list((await session.execute(select(NeedAttachment))).scalars())
    return need, files


async def last_wrote(tg: Running) -> object:
    async with tg.core.sessions() as session:
        return (await session.execute(select(Citizen.last_inbound_at))).scalar_one()


# --- the model on the clips ----------------------------------------------------------------------


@NEEDS_MODEL
@pytest.mark.parametrize("clip", ["silenzio", "rumore"])
def test_silence_and_noise_have_no_words(speech: Speech, clip: str) -> None:
    assert speech.hear(CLIPS / f"{clip}.ogg", max_seconds=180).outcome == HeardOutcome.EMPTY


@NEEDS_MODEL
def test_a_note_over_the_limit_is_measured_not_transcribed(speech: Speech) -> None:
    heard = speech.hear(CLIPS / "venti_secondi.ogg", max_seconds=10)
    assert (heard.outcome, heard.text) == (HeardOutcome.TOO_LONG, "")
    assert 19 < heard.seconds < 21


# --- the conversation ----------------------------------------------------------------------------


@NEEDS_MODEL
async def test_a_description_by_voice_confirmed_goes_with_its_audio(
    sqlite_url: str, fake: FakeTelegram, speech: Speech, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        await send_clip(tg, "descrizione")
        assert tg.texts()[-1] == tg.t("voice.listening")  # said at once; the note is heard after the commit

        assert await transcriber(tg, speech, tmp_path / "voice").flush() == 1
        await tg.settled()
        read_back = tg.texts()[-1]
        assert read_back.startswith("Ho capito così: «") and "spesa" in read_back.lower()
        await tg.tap("Sì")
        assert tg.texts()[-1] == tg.t("intake.ask_comune")
        await finish(tg)

        need, [audio] = await the_need(tg)
        assert "spesa" in need.description.lower() and need.description in read_back
        assert (audio.kind, audio.transcript) == ("voice", need.description)  # operators read it next to the audio
        assert list((tmp_path / "voice").iterdir()) == []  # the downloaded copy is gone once heard
    ours = [r.getMessage() for r in caplog.records if r.name.split(".")[0] in {"bot", "conversations", "storage", "handlers"}]
    assert any(line.startswith("voice note ") for line in ours)
    words = need.description.lower().replace(",", "").replace(".", "").split()
    assert not any(" ".join(words[i : i + 3]) in line.lower() for line in ours for i in range(len(words) - 2))  # never the words


@NEEDS_MODEL
async def test_a_description_by_voice_refused_lets_the_citizen_write(
    sqlite_url: str, fake: FakeTelegram, speech: Speech, tmp_path: Path
) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        await send_clip(tg, "descrizione")
        await transcriber(tg, speech, tmp_path / "voice").flush()
        await tg.settled()
        await tg.tap("No")
        assert tg.texts()[-1] == f"{tg.t('voice.heard_no')}\n\n{tg.t('intake.ask_description')}"
        await tg.say("Aiuto per la spesa di mia madre")
        await finish(tg)
        need, [audio] = await the_need(tg)
        assert need.description == "Aiuto per la spesa di mia madre"
        assert audio.kind == "voice" and "spesa" in (audio.transcript or "").lower()


@NEEDS_MODEL
async def test_urgency_answered_by_voice(sqlite_url: str, fake: FakeTelegram, speech: Speech, tmp_path: Path) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        for text in ("Aiuto per la spesa di mia madre", "Ravenna"):
            await tg.say(text)
        await send_clip(tg, "non_urgente")
        await transcriber(tg, speech, tmp_path / "voice").flush()
        await tg.settled()
        assert tg.texts()[-1] == tg.t("intake.ask_contact")
        async with tg.core.sessions() as session:
            [conversation] = (await session.execute(select(Conversation))).scalars().all()
        assert conversation.answers["urgency"] == Urgency.LOW  # a spoken "non è urgente" is not urgent


@NEEDS_MODEL
@pytest.mark.parametrize(("clip", "msgid"), [("silenzio", "voice.empty"), ("venti_secondi", "voice.too_long")])
async def test_a_note_without_words_is_kept_and_the_citizen_told(
    sqlite_url: str, fake: FakeTelegram, speech: Speech, tmp_path: Path, clip: str, msgid: str
) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        await send_clip(tg, clip)
        await transcriber(tg, speech, tmp_path / "voice", max_seconds=10).flush()
        await tg.settled()
        assert tg.texts()[-1] == f"{tg.t(msgid)}\n\n{tg.t('intake.ask_description')}"
        await tg.say("Aiuto per la spesa")
        await finish(tg)
        _, [audio] = await the_need(tg)
        assert (audio.kind, audio.transcript) == ("voice", None)


async def test_a_transcription_crash_loses_nothing_and_the_citizen_is_told(
    sqlite_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        await send_clip(tg, "descrizione")
        assert await transcriber(tg, Crashing(), tmp_path / "voice").flush() == 1
        await tg.settled()
        assert tg.texts()[-1] == f"{tg.t('voice.failed')}\n\n{tg.t('intake.ask_description')}"
        await tg.say("Aiuto per la spesa")
        await finish(tg)
        _, [audio] = await the_need(tg)
        assert audio.kind == "voice" and audio.ref.startswith("FAKE")
        async with tg.core.sessions() as session:
            [note] = (await session.execute(select(VoiceNote))).scalars().all()
        assert (note.status, note.error, note.transcript) == ("failed", None, None)
        assert list((tmp_path / "voice").iterdir()) == []


async def test_erasure_deletes_voice_notes_and_their_words(sqlite_url: str, fake: FakeTelegram, tmp_path: Path) -> None:
    class Hears:
        def hear(self, audio: Path, *, max_seconds: float) -> Heard:
            return Heard(HeardOutcome.HEARD, "Mi serve aiuto per la spesa di mia madre", 6.0)

    async with running_telegram(sqlite_url, fake) as tg:
        await to_description(tg)
        await send_clip(tg, "descrizione")
        wrote = await last_wrote(tg)
        await transcriber(tg, Hears(), tmp_path / "voice").flush()
        await tg.settled()
        assert await last_wrote(tg) == wrote  # the words coming back are not the citizen writing (WhatsApp's window)
        await tg.tap("Sì")
        await finish(tg)
        assert await count(tg.core, VoiceNote) == 1
        await tg.say("/cancella_dati")
        await tg.say("sì")
        assert await count(tg.core, VoiceNote) == 0
        assert await count(tg.core, NeedAttachment) == 0


async def test_retention_deletes_voice_notes_after_the_files_period(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        citizen, _ = await conversations.with_citizen(session, channel="telegram", external_id="77", now=clock.now, language="it")
        assert citizen.id is not None
        await voice.queue(session, citizen_id=citizen.id, ref="FAKE-1", content_type="audio/ogg", step="description", now=clock.now)
    await apply_retention(core, clock.now + timedelta(days=core.settings.privacy.files_days - 1))
    assert await count(core, VoiceNote) == 1
    await apply_retention(core, clock.now + timedelta(days=core.settings.privacy.files_days + 1))
    assert await count(core, VoiceNote) == 0


@TWILIO_AIOHTTP_DEPRECATIONS
async def test_whatsapp_audio_comes_through_the_authenticated_download_and_is_deleted(
    db_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    class Hears:
        def hear(self, audio: Path, *, max_seconds: float) -> Heard:
            assert audio.read_bytes() == clip  # the note itself, downloaded with the account's credentials
            return Heard(HeardOutcome.HEARD, "Non è urgente.", 2.5)

    clip = (CLIPS / "non_urgente.ogg").read_bytes()
    async with media_rig(db_url, clock, tmp_path, download_media=False) as rig:
        assert rig.channel.fetch_audio is not None and not rig.core.wakeups.has_media_worker
        for text in BY_NUMBERS[:6]:
            await rig.write(text)
        url, content_type = rig.fake.add_media(clip, "audio/ogg")
        await rig.write(media=[(url, content_type)])
        assert rig.bodies()[-1] == rig.core.translator.gettext("voice.listening", "it")
        policy = VoicePolicy(audio_dir=tmp_path / "voice", max_attempts=1)
        heard = Transcriber(rig.core.sessions, Hears(), rig.core.pipeline.handle, {"whatsapp": rig.channel.fetch_audio}, policy=policy)
        assert await heard.flush() == 1
        await rig.dispatcher.flush()
        assert rig.core.translator.gettext("intake.ask_contact", "it") in rig.bodies()[-1]
        async with rig.core.sessions() as session:
            [conversation] = (await session.execute(select(Conversation))).scalars().all()
        assert conversation.answers["urgency"] == Urgency.LOW
    [fetch] = rig.fake.media_fetches
    assert fetch.authorization is None  # the storage host never saw the credentials (bot/media.py)
    assert files(tmp_path) == []  # the copy is gone once heard: download_media is off


def test_the_transcriber_thread_yields_the_cpu_to_the_replies(tmp_path: Path) -> None:
    async def deliver(event: object) -> None:
        raise AssertionError("nothing is heard here")

    heard = Transcriber(None, Crashing(), deliver, {}, policy=VoicePolicy(audio_dir=tmp_path))  # type: ignore[arg-type]
    try:
        in_thread = heard._pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    finally:
        heard.close()
    assert in_thread >= NICENESS > os.getpriority(os.PRIO_PROCESS, 0)  # the event loop's thread keeps its priority
