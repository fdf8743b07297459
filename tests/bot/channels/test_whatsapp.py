"""WhatsApp end to end: signed webhooks into the real app, replies through the real twilio client to the fake."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import build_core
from bot.core import Core
from bot.channels.base import Channel
from bot.channels.web import build_web_app
from bot.channels.whatsapp import build
from bot.cli.main import has_remote_channel
from bot.config import AdminSettings, ConfigError, WhatsAppContentSettings, WhatsAppSettings, load_settings
from bot.dispatcher import Dispatcher
from storage import outbox
from storage.db import transaction
from storage.models import Citizen, Conversation, InboundEvent, Need, OutboxMessage
from tests.helpers.asgi import LateApp
from tests.conftest import make_settings, whatsapp_settings
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio, serve_loopback
from tests.helpers.clock import FakeClock
from tests.helpers.entropy import seeded

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

USER = "+393331234567"
WINDOW_TEMPLATE = "HX" + "ab" * 16
QUICK_REPLY = "HX" + "cd" * 16
DESCRIPTION = "Mia madre ha 85 anni e le serve aiuto per la spesa"
BY_NUMBERS = ("ciao", "1", "1", "5", DESCRIPTION, "Ravenna", "1", "1", "1")
BY_WORDS = ("ciao", "nuovo", "sì", "spesa", DESCRIPTION, "ravenna", "alta", "chat", "invia")


@dataclass
class Rig:
    fake: FakeTwilio
    core: Core
    channel: Channel
    dispatcher: Dispatcher
    http: httpx.AsyncClient
    base_url: str
    clock: FakeClock

    async def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> httpx.Response:
        url = self.base_url + path
        sig = self.fake.sign(url, params) if signature is None else signature
        return await self.http.post(url, data=params, headers={"X-Twilio-Signature": sig})

    async def write(self, body: str = "", *, flush: bool = True, sender: str = USER, **kw: Any) -> httpx.Response:
        response = await self.post("/whatsapp", self.fake.inbound_params(sender, body, **kw))
        if flush:
            await self.dispatcher.flush()
        self.clock.advance(seconds=5)
        return response

    def bodies(self) -> list[str]:
        return [m["body"] or "" for m in self.fake.messages_to(USER)]

    async def count(self, model: type, *where: Any) -> int:
        async with self.core.sessions() as session:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)
            return int((await session.execute(query)).scalar_one())

    async def rows(self) -> list[OutboxMessage]:
        async with self.core.sessions() as session:
            return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all())

    async def citizen(self) -> Citizen:
        async with self.core.sessions() as session:
            return (await session.execute(select(Citizen))).scalar_one()


@contextlib.asynccontextmanager
async def rig_for(
    db_url: str,
    clock: FakeClock,
    *,
    media: dict[str, Any] | None = None,
    admin: AdminSettings | None = None,
    **content: Any,
) -> AsyncIterator[Rig]:
    """The app on loopback with the fake; `media` adds ``[whatsapp]`` media settings (download_media...), `admin` the ``[admin]`` section."""
    late = LateApp()
    async with FakeTwilio(rate=None) as fake, serve_loopback(late) as base_url, httpx.AsyncClient(trust_env=False) as http:
        settings = make_settings(
            db_url,
            whatsapp=whatsapp_settings(
                fake, base_url, messages_per_second=200, content=WhatsAppContentSettings(**content), **(media or {})
            ),
            admin=admin or AdminSettings(),
        )
        core = await build_core(settings, clock=clock)
        core.pipeline.entropy = seeded()
        channel = await build(core)
        try:
            late.app = build_web_app(core, channel.routes)
            dispatcher = core.dispatcher({"whatsapp": channel.sender}, clock=clock)
            yield Rig(fake, core, channel, dispatcher, http, base_url, clock)
        finally:
            assert channel.shutdown is not None
            await channel.shutdown()
            await core.close()


@pytest.fixture
async def rig(db_url: str, clock: FakeClock) -> AsyncIterator[Rig]:
    async with rig_for(db_url, clock, window_template_sid=WINDOW_TEMPLATE) as built:
        yield built


async def assert_one_need(rig: Rig) -> None:
    async with rig.core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
    assert need.category_slug == "spesa" and need.comune_istat == "039014" and need.urgency == "alta"
    assert any(f"Il tuo codice è {need.ticket}" in body for body in rig.bodies())


@pytest.mark.parametrize("script", [BY_NUMBERS, BY_WORDS], ids=["numbers", "words"])
async def test_whole_intake_over_whatsapp(rig: Rig, script: tuple[str, ...]) -> None:
    for text in script:
        response = await rig.write(text)
        assert response.status_code == 200 and response.text.endswith("<Response/>")
    await assert_one_need(rig)
    bodies = rig.bodies()
    assert "1. Segnalare un bisogno" in bodies[1] and bodies[1].endswith("Rispondi con il numero.")
    assert all(len(b) <= 1600 for b in bodies)
    assert (await rig.citizen()).external_id == USER


async def test_whole_intake_by_button_payloads(rig: Rig) -> None:
    await rig.write("ciao")
    for answer in ("nuovo", "si", "spesa", DESCRIPTION, "Ravenna", "alta", "chat", "invia"):
        last = (await rig.rows())[-1]
        if last.options:
            assert answer in [o["payload"] for o in last.options]
            await rig.write(button_payload=f"{last.conversation_version}:{answer}", button_text=answer)
        else:
            await rig.write(answer)
    await assert_one_need(rig)


async def test_quick_reply_template_is_used_and_its_buttons_answer(db_url: str, clock: FakeClock) -> None:
    async with rig_for(db_url, clock, quick_reply={2: QUICK_REPLY}) as rig:
        await rig.write("ciao")
        await rig.write("1")
        consent = rig.fake.messages_to(USER)[-1]
        assert consent["content_sid"] == QUICK_REPLY and consent["content_variables"] is not None
        assert consent["content_variables"]["3"] == "Sì, sono d'accordo"
        await rig.write(button_payload=consent["content_variables"]["2"], button_text="Sì")
        assert "Di cosa hai bisogno?" in rig.bodies()[-1]


async def test_redelivered_message_sid_creates_one_need(rig: Rig) -> None:
    for i, text in enumerate(BY_NUMBERS):
        params = rig.fake.inbound_params(USER, text, message_sid=f"SM{i:032d}")
        assert (await rig.post("/whatsapp", params)).status_code == 200
        assert (await rig.post("/whatsapp", params)).status_code == 200
        await rig.dispatcher.flush()
    assert await rig.count(Need) == 1
    assert await rig.count(InboundEvent) == len(BY_NUMBERS)
    assert sum("Il tuo codice è" in b for b in rig.bodies()) == 1


@pytest.mark.parametrize("signature", ["", "forged", "other-url"])
async def test_forged_twilio_signature_is_rejected_and_nothing_stored(rig: Rig, signature: str) -> None:
    params = rig.fake.inbound_params(USER, "ciao")
    if signature == "forged":
        signature = rig.fake.sign(rig.base_url + "/whatsapp", {**params, "Body": "altro"})
    elif signature == "other-url":
        signature = rig.fake.sign("https://elsewhere.example.org/whatsapp", params)
    assert (await rig.post("/whatsapp", params, signature=signature)).status_code == 403
    status = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    assert (await rig.post("/whatsapp/status", status, signature=signature)).status_code == 403
    for model in (Citizen, InboundEvent, OutboxMessage):
        assert await rig.count(model) == 0


async def test_database_down_answers_503_and_nothing_is_written(rig: Rig) -> None:
    params = rig.fake.inbound_params(USER, "ciao")
    good_bind = rig.core.sessions.kw["bind"]
    await rig.core.db.dispose()
    rig.core.sessions.configure(bind=None)
    assert (await rig.post("/whatsapp", params)).status_code == 503
    rig.core.sessions.configure(bind=good_bind)
    for model in (Citizen, InboundEvent, OutboxMessage):
        assert await rig.count(model) == 0
    # Twilio retries the same MessageSid: now it is stored and answered once.
    assert (await rig.post("/whatsapp", params)).status_code == 200
    await rig.dispatcher.flush()
    assert await rig.count(InboundEvent) == 1 and len(rig.bodies()) == 2


async def enqueue_followup(rig: Rig, text: str) -> None:
    citizen = await rig.citizen()
    async with transaction(rig.core.sessions) as session:
        await outbox.enqueue(
            session, channel="whatsapp", recipient=USER, citizen_id=citizen.id, text=text, now=rig.clock.now
        )


async def test_follow_up_outside_the_window_uses_the_template(rig: Rig) -> None:
    await rig.write("ciao")
    rig.clock.advance(hours=25)
    await enqueue_followup(rig, "La tua richiesta K7M-R4P è stata presa in carico.")
    await rig.dispatcher.flush()
    last = rig.fake.messages_to(USER)[-1]
    assert last["content_sid"] == WINDOW_TEMPLATE
    assert last["content_variables"] == {"1": "La tua richiesta K7M-R4P è stata presa in carico."}
    assert (await rig.rows())[-1].status == "sent"


async def test_follow_up_outside_the_window_without_template_is_held(db_url: str, clock: FakeClock) -> None:
    async with rig_for(db_url, clock) as rig:
        await rig.write("ciao")
        sent = len(rig.fake.messages)
        rig.clock.advance(hours=25)
        await enqueue_followup(rig, "Novità sulla tua richiesta.")
        await rig.dispatcher.flush()
        assert len(rig.fake.messages) == sent
        row = (await rig.rows())[-1]
        assert row.status == "held" and "24-hour window" in (row.last_error or "")
        health = await rig.http.get(rig.base_url + "/healthz")
        assert health.json()["outbox_held"] == 1


async def test_63016_from_a_status_callback_resends_as_the_template(rig: Rig) -> None:
    await rig.write("ciao")
    rig.fake.close_window(USER)  # our record says the window is open; Twilio disagrees
    await enqueue_followup(rig, "Un aggiornamento.")
    await rig.dispatcher.flush()
    await rig.fake.wait_for(lambda: any(c.params.get("ErrorCode") == "63016" for c in rig.fake.callbacks))
    await rig.dispatcher.flush()
    rows = await rig.rows()
    assert rows[-2].status == "failed" and rows[-2].error_code == "63016"
    assert rows[-1].status == "sent" and rows[-1].text == "Un aggiornamento."
    assert rig.fake.messages_to(USER)[-1]["content_sid"] == WINDOW_TEMPLATE


async def test_stop_opts_out_and_start_opts_back_in(rig: Rig) -> None:
    await rig.write("ciao")
    await rig.write("STOP")
    citizen = await rig.citizen()
    assert citizen.opted_out_at is not None
    assert "non ti scriviamo più noi" in rig.bodies()[-1] and "START" in rig.bodies()[-1]
    # A message we start ourselves is not sent while they are opted out...
    await enqueue_followup(rig, "Novità!")
    await rig.dispatcher.flush()
    assert "Novità!" not in rig.bodies()
    assert (await rig.rows())[-1].status == "failed"
    # ...but what they write is still answered, and START brings them back.
    await rig.write("Start")
    assert (await rig.citizen()).opted_out_at is None
    assert "riceverai di nuovo i nostri messaggi" in rig.bodies()[-2]
    assert "Cosa vuoi fare?" in rig.bodies()[-1]
    await rig.write("start")  # not opted out: START is the intake, as /start
    assert "Prima di iniziare" in rig.bodies()[-1]


async def test_21610_marks_the_citizen_opted_out(rig: Rig) -> None:
    await rig.write("ciao")
    rig.fake.opt_out(USER)
    await enqueue_followup(rig, "Novità!")
    await rig.dispatcher.flush()
    citizen = await rig.citizen()
    assert citizen.opted_out_at is not None and citizen.is_unreachable
    last = (await rig.rows())[-1]
    assert last.status == "failed" and last.error_code == "21610"


async def test_status_callbacks_update_the_row_and_never_move_backwards(rig: Rig) -> None:
    await rig.write("ciao")
    row = (await rig.rows())[-1]
    assert row.status == "sent" and row.provider_message_id is not None
    sid = row.provider_message_id
    await rig.fake.advance(sid, "delivered")
    await rig.fake.advance(sid, "sent")  # late and out of order
    assert (await rig.rows())[-1].status == "delivered"
    await rig.fake.advance(sid, "read")
    assert (await rig.rows())[-1].status == "read"
    assert all(c.status_code == 204 for c in rig.fake.callbacks)
    other = (await rig.rows())[0]
    assert other.provider_message_id is not None
    await rig.fake.advance(other.provider_message_id, "undelivered", error_code=30008)
    first = (await rig.rows())[0]
    assert first.status == "failed" and first.error_code == "30008"


async def test_a_status_for_an_outbox_id_no_row_can_have_is_recorded_by_its_sid(rig: Rig) -> None:
    """A 40-digit `?outbox=` overflowed the id column: 503 every time (issue 13)."""
    await rig.write("ciao")
    row = (await rig.rows())[-1]
    assert row.provider_message_id is not None
    form = {"MessageSid": row.provider_message_id, "MessageStatus": "delivered"}
    assert (await rig.post("/whatsapp/status?outbox=" + "9" * 40, form)).status_code == 204
    assert (await rig.rows())[-1].status == "delivered"


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20503)])
async def test_throttling_and_server_errors_are_retried(rig: Rig, status: int, code: int) -> None:
    rig.fake.fail_next(status, code, "nope", count=2)
    await rig.write("ciao")
    assert rig.bodies() == []
    for _ in range(4):
        rig.clock.advance(seconds=60)
        await rig.dispatcher.flush()
    assert len(rig.bodies()) == 2
    rows = await rig.rows()
    assert all(r.status == "sent" for r in rows)
    assert rows[0].attempts == (0 if status == 429 else 2)


async def test_voice_note_and_location_are_acknowledged_and_kept(rig: Rig) -> None:
    await rig.write(media=[("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "audio/ogg")])
    assert any("vocale" in b.lower() for b in rig.bodies())
    await rig.write(latitude=44.4184, longitude=12.2035)
    assert any("posizione" in b for b in rig.bodies())
    async with rig.core.sessions() as session:
        [conversation] = (await session.execute(select(Conversation))).scalars().all()
    assert conversation.answers["location"] == [44.4184, 12.2035]
    assert conversation.answers["media"][0]["content_type"] == "audio/ogg"


def test_twilio_credentials_in_a_config_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[whatsapp]\nauth_token = "abc"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="ASCOLTO_WHATSAPP__AUTH_TOKEN"):
        load_settings(path)


def test_run_serves_channels_when_any_remote_channel_is_configured(sqlite_url: str) -> None:
    assert not has_remote_channel(make_settings(sqlite_url))
    configured = WhatsAppSettings(account_sid="AC1", auth_token="t")  # type: ignore[arg-type]
    assert has_remote_channel(make_settings(sqlite_url, whatsapp=configured))


async def test_an_attachment_is_sent_by_a_signed_url_that_only_serves_that_file(rig: Rig, tmp_path: Path) -> None:
    await rig.write("ciao")
    chart = tmp_path / "digest.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"1" * 32)
    citizen = await rig.citizen()
    async with transaction(rig.core.sessions) as session:
        row = await outbox.enqueue(
            session, channel="whatsapp", recipient=USER, citizen_id=citizen.id, text="Il grafico", now=rig.clock.now
        )
        row.attachment_path, row.attachment_type = str(chart), "image/png"
    await rig.dispatcher.flush()
    [url] = rig.fake.messages_to(USER)[-1]["media_urls"]
    fetched = await rig.http.get(url)
    assert fetched.status_code == 200 and fetched.content == chart.read_bytes()
    forged = await rig.http.get(url.rsplit("/", 1)[0] + "/" + "0" * 32)
    assert forged.status_code == 404
