"""The Twilio fake, exercised through the real async twilio client over loopback."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio, serve_loopback

USER = "whatsapp:+393331234567"
TEMPLATE = "HX" + "ab" * 16

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS


@dataclass
class Receiver:
    """A tiny app-side status-callback endpoint that validates Twilio's signature."""

    validator: RequestValidator
    url: str = ""
    calls: list[tuple[dict[str, str], bool]] = field(default_factory=list)

    async def status(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        signature = request.headers.get("X-Twilio-Signature", "")
        self.calls.append((params, self.validator.validate(str(request.url), params, signature)))
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def receiver_for(fake: FakeTwilio) -> AsyncIterator[Receiver]:
    receiver = Receiver(RequestValidator(fake.auth_token))
    app = Starlette(routes=[Route("/twilio/status", receiver.status, methods=["POST"])])
    async with serve_loopback(app) as base_url:
        receiver.url = f"{base_url}/twilio/status?conversation=42"
        yield receiver


@contextlib.asynccontextmanager
async def client_for(fake: FakeTwilio, token: str | None = None) -> AsyncIterator[Client]:
    async with AsyncTwilioHttpClient() as http:
        yield fake.attach(Client(fake.account_sid, token or fake.auth_token, http_client=http))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(rate=None) as fake:
        yield fake


@pytest.fixture
async def client(fake: FakeTwilio) -> AsyncIterator[Client]:
    async with client_for(fake) as client:
        yield client


async def test_create_returns_a_queued_message(fake: FakeTwilio, client: Client) -> None:
    msg = await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao, come stai?")

    assert re.fullmatch(r"SM[0-9a-f]{32}", msg.sid)
    assert (msg.status, msg.to, msg.from_, msg.body) == ("queued", USER, fake.sender, "Ciao, come stai?")
    assert msg.error_code is None and msg.num_segments == "1" and msg.date_created is not None
    [record] = fake.messages_to("+393331234567")
    assert record["sid"] == msg.sid and record["status"] == "queued"
    fetched = await client.messages(msg.sid).fetch_async()
    assert fetched.sid == msg.sid


async def test_media_only_message_is_accepted(fake: FakeTwilio, client: Client) -> None:
    urls = ["https://example.org/a.jpg", "https://example.org/b.jpg"]
    msg = await client.api.v2010.account.messages.create_async(
        from_=fake.sender, to=USER, media_url=urls
    )

    assert msg.num_media == "2"
    assert fake.message(msg.sid)["media_urls"] == urls


async def test_wrong_token_is_401_with_code_20003(fake: FakeTwilio) -> None:
    async with client_for(fake, token="0" * 32) as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")

    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert caught.value.msg == "Unable to create record: Authenticate"
    assert fake.messages == [] and fake.stats.rejected == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"body": "x" * 1601}, 21617),
        ({}, 21619),
        ({"content_sid": "HX123"}, 21655),
        ({"content_sid": TEMPLATE, "content_variables": "{not json"}, 21656),
        ({"body": "Ciao", "to": "+393331234567"}, 21910),
    ],
)
async def test_invalid_requests_are_400(
    fake: FakeTwilio, client: Client, kwargs: dict[str, str], code: int
) -> None:
    params = {"from_": fake.sender, "to": USER, **kwargs}
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(**params)

    assert (caught.value.status, caught.value.code) == (400, code)
    assert fake.messages == []


async def test_a_1600_char_body_is_still_accepted(fake: FakeTwilio, client: Client) -> None:
    msg = await client.messages.create_async(from_=fake.sender, to=USER, body="x" * 1600)
    assert msg.status == "queued"


async def test_opted_out_recipient_gets_21610(fake: FakeTwilio, client: Client) -> None:
    fake.opt_out("+393331234567")
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")

    assert (caught.value.status, caught.value.code) == (400, 21610)
    assert "unsubscribed recipient" in caught.value.msg


async def test_scripted_failures_are_consumed_in_order(fake: FakeTwilio, client: Client) -> None:
    fake.fail_next(429, 20429, "Too Many Requests")
    fake.fail_next(503, 20503, "Service Unavailable", count=2)
    seen = []
    for _ in range(3):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")
        seen.append((caught.value.status, caught.value.code))

    msg = await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")
    assert seen == [(429, 20429), (503, 20503), (503, 20503)]
    assert msg.status == "queued" and fake.stats.scripted == 3 and fake.stats.created == 1


async def test_throughput_per_sender_is_enforced_with_429() -> None:
    now = [0.0]
    async with FakeTwilio(rate=1.0, burst=2, clock=lambda: now[0]) as fake, client_for(fake) as client:
        for _ in range(2):
            await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")
        other = await client.messages.create_async(from_="whatsapp:+390212345678", to=USER, body="Ciao")
        now[0] += 1.0
        await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")

    assert (caught.value.status, caught.value.code) == (429, 20429)
    assert other.status == "queued"
    assert (fake.stats.throttled, fake.stats.created) == (1, 4)


async def test_closed_window_fails_later_through_a_signed_callback(
    fake: FakeTwilio, client: Client
) -> None:
    fake.close_window("+393331234567")
    async with receiver_for(fake) as receiver:
        msg = await client.messages.create_async(
            from_=fake.sender, to=USER, body="Ciao", status_callback=receiver.url
        )
        assert msg.status == "queued"  # accepted: the window is checked after the create
        await fake.wait_for(lambda: receiver.calls)

    [(params, valid)] = receiver.calls
    assert valid
    assert params["MessageSid"] == msg.sid and params["AccountSid"] == fake.account_sid
    assert (params["MessageStatus"], params["ErrorCode"]) == ("failed", "63016")
    assert (params["From"], params["To"]) == (fake.sender, USER)
    assert fake.message(msg.sid)["status"] == "failed"
    assert fake.stats.callbacks_sent == 1


async def test_template_outside_window_is_delivered_and_late_sent_arrives_after(
    fake: FakeTwilio, client: Client
) -> None:
    fake.close_window(USER)
    fake.templates[TEMPLATE] = "Ciao {{1}}, la tua richiesta è stata presa in carico."
    async with receiver_for(fake) as receiver:
        fake.status_callback = receiver.url  # the account-wide default
        msg = await client.messages.create_async(
            from_=fake.sender, to=USER, content_sid=TEMPLATE,
            content_variables=json.dumps({"1": "Giulia"}),
        )
        await fake.advance(msg.sid, "delivered")
        await fake.advance(msg.sid, "sent")  # the late one

    assert msg.body == "Ciao Giulia, la tua richiesta è stata presa in carico."
    assert [(p["MessageStatus"], ok) for p, ok in receiver.calls] == [("delivered", True), ("sent", True)]
    assert all("ErrorCode" not in p for p, _ in receiver.calls)
    record = fake.message(msg.sid)
    assert record["content_variables"] == {"1": "Giulia"}
    assert (record["status"], record["statuses"]) == ("delivered", ["delivered", "sent"])


async def test_auto_statuses_follow_each_create() -> None:
    async with (
        FakeTwilio(rate=None, auto_statuses=("sent", "delivered", "read")) as fake,
        receiver_for(fake) as receiver,
        client_for(fake) as client,
    ):
        fake.status_callback = receiver.url
        await client.messages.create_async(from_=fake.sender, to=USER, body="Ciao")
        await fake.wait_for(lambda: len(receiver.calls) == 3)

    assert [p["MessageStatus"] for p, _ in receiver.calls] == ["sent", "delivered", "read"]
    assert receiver.calls[2][0]["EventType"] == "READ"


async def test_inbound_params_are_signed_like_twilio(fake: FakeTwilio) -> None:
    url = "https://ascolto.example.org/whatsapp/inbound"
    params = fake.inbound_params(
        "+393331234567", "Buongiorno", profile_name="Mario Rossi",
        media=[("https://api.twilio.com/media/ME1", "audio/ogg")],
    )
    signature = fake.sign(url, params)
    validator = RequestValidator(fake.auth_token)

    assert validator.validate(url, params, signature)
    assert not validator.validate("https://ascolto.example.org/whatsapp/other", params, signature)
    assert not RequestValidator("f" * 32).validate(url, params, signature)
    assert params["From"] == USER and params["To"] == fake.sender
    assert (params["WaId"], params["SmsStatus"], params["ApiVersion"]) == ("393331234567", "received", "2010-04-01")
    assert (params["NumMedia"], params["MessageType"], params["MediaContentType0"]) == ("1", "audio", "audio/ogg")
    assert re.fullmatch(r"MM[0-9a-f]{32}", params["MessageSid"])


async def test_inbound_location_and_button(fake: FakeTwilio) -> None:
    location = fake.inbound_params(USER, latitude=45.4642, longitude=9.19)
    button = fake.inbound_params(USER, "Sì", button_payload="confirm", message_sid="SM" + "0" * 32)

    assert (location["MessageType"], location["Latitude"], location["Longitude"]) == ("location", "45.4642", "9.19")
    assert (button["MessageType"], button["ButtonPayload"], button["MessageSid"]) == ("button", "confirm", "SM" + "0" * 32)


async def test_media_needs_basic_auth_and_redirects_to_a_storage_host_without_it() -> None:
    import httpx

    async with FakeTwilio() as fake, httpx.AsyncClient(trust_env=False) as http:
        url, content_type = fake.add_media(b"\xff\xd8photo", "image/jpeg")
        assert (await http.get(url)).status_code == 401
        wrong = await http.get(url, auth=(fake.account_sid, "wrong"))
        assert wrong.status_code == 401 and wrong.json()["code"] == 20003
        redirect = await http.get(url, auth=(fake.account_sid, fake.auth_token))
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(fake.storage_url)
        served = await http.get(redirect.headers["location"])
        assert served.content == b"\xff\xd8photo" and served.headers["content-type"] == content_type
        assert [f.authorization for f in fake.media_fetches] == [None]
        fake.fail_media_next(500)
        assert (await http.get(url, auth=(fake.account_sid, fake.auth_token))).status_code == 500
        fake.fail_media_next(404)
        assert (await http.get(url, auth=(fake.account_sid, fake.auth_token))).status_code == 404
        assert fake.media_requests == 5
