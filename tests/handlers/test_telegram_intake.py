"""Telegram updates in, alone: PTB's Application against the fake Bot API, a recording sink, no database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from telegram import Update
from telegram.ext import ApplicationBuilder

from handlers.body_limit import JSON, BodyLimit
from handlers.telegram_intake import SECRET_HEADER, WEBHOOK_LIMIT, TelegramApp, TelegramIntake
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers.clock import FakeClock
from tests.helpers.sink import RecordingSink

CHAT = 4242
SECRET = "s3cret_Token-for-tests"


@dataclass
class Rig:
    fake: FakeTelegram
    application: TelegramApp
    intake: TelegramIntake
    sink: RecordingSink
    clock: FakeClock

    def update(self, text: str, *, chat_type: str = "private") -> dict[str, Any]:
        update_id = self.fake.push_message(CHAT, text, chat_type=chat_type)
        return next(u for u in self.fake.pending_updates if u["update_id"] == update_id)

    async def post(self, body: object, *, secret: str | None = SECRET) -> httpx.Response:
        app = Starlette(routes=[self.intake.route("/telegram", SECRET)])
        headers = {} if secret is None else {SECRET_HEADER: secret}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post("/telegram", json=body, headers=headers)


@pytest.fixture
async def rig(clock: FakeClock) -> AsyncIterator[Rig]:
    async with FakeTelegram() as fake:
        application: TelegramApp = (
            ApplicationBuilder().token(fake.token).base_url(fake.base_url).base_file_url(fake.base_file_url)
            .updater(None).build()
        )  # fmt: skip
        sink = RecordingSink()
        intake = TelegramIntake(
            application, sink, clock=clock, invitation=lambda username: f"Scrivimi in privato: @{username}"
        )
        await application.initialize()
        try:
            yield Rig(fake, application, intake, sink, clock)
        finally:
            await application.shutdown()


async def test_a_private_message_reaches_the_sink_at_the_clocks_time(rig: Rig) -> None:
    await rig.intake.process(Update.de_json(rig.update("ciao"), rig.application.bot))
    [event] = rig.sink.events
    assert (event.channel, event.sender, event.text, event.received_at) == ("telegram", str(CHAT), "ciao", rig.clock.now)


async def test_a_group_gets_the_invitation_and_the_sink_nothing(rig: Rig) -> None:
    await rig.intake.process(Update.de_json(rig.update("ciao", chat_type="group"), rig.application.bot))
    assert rig.sink.events == []
    [invitation] = rig.fake.messages_to(CHAT)
    assert invitation.text == f"Scrivimi in privato: @{rig.application.bot.username}"


async def test_an_update_the_sink_could_not_store_raises_from_process(rig: Rig) -> None:
    rig.sink.failing = True
    with pytest.raises(ConnectionError):
        await rig.intake.process(Update.de_json(rig.update("ciao"), rig.application.bot))


@pytest.mark.parametrize("secret", [None, "wrong", SECRET + "x"], ids=["missing", "wrong", "longer"])
async def test_the_webhook_refuses_a_wrong_secret_before_reading_anything(rig: Rig, secret: str | None) -> None:
    assert (await rig.post(rig.update("ciao"), secret=secret)).status_code == 403
    assert rig.sink.events == []


async def test_the_webhook_answers_200_once_stored_400_unreadable_503_not_stored(rig: Rig) -> None:
    assert (await rig.post(rig.update("ciao"))).status_code == 200
    assert [e.text for e in rig.sink.events] == ["ciao"]
    assert (await rig.post(["not", "an", "update"])).status_code == 400
    rig.sink.failing = True
    assert (await rig.post(rig.update("di nuovo"))).status_code == 503
    assert [e.text for e in rig.sink.events] == ["ciao"]


async def test_the_webhook_refuses_a_body_over_its_limit_or_not_json_before_reading_it(rig: Rig) -> None:
    app = Starlette(routes=[rig.intake.route("/telegram", SECRET)])
    huge = json.dumps({"update_id": 1, "padding": "x" * WEBHOOK_LIMIT.max_bytes}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        too_big = await client.post("/telegram", content=huge, headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
        not_json = await client.post("/telegram", content=b"{}", headers={SECRET_HEADER: SECRET, "Content-Type": "text/plain"})
    assert (too_big.status_code, not_json.status_code) == (413, 415)
    assert rig.sink.events == []


async def test_the_webhook_limit_is_the_one_it_is_given(rig: Rig) -> None:
    app = Starlette(routes=[rig.intake.route("/telegram", SECRET, limit=BodyLimit(1024, JSON))])
    update = rig.update("x" * 2000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/telegram", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 413 and rig.sink.events == []
    assert (await rig.post(rig.update("ciao"))).status_code == 200
