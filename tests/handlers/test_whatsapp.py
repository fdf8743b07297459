"""The Twilio adapter as tables: form in -> Inbound or error; Outgoing -> Twilio parameters; errors mapped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from conversations import Inbound, Location, Media, MediaKind
from handlers import Held, Outgoing, Rejected, SendError, Throttled, Transient, Unsubscribed
from handlers.whatsapp import (
    BODY_LIMIT,
    BadRequest,
    ContentTemplates,
    StatusReport,
    TwilioMessage,
    WhatsAppSender,
    is_signed,
    map_error,
    parse_inbound,
    parse_status,
    render_session,
    render_template,
    template_variable,
)
from tests.helpers.clock import START, FakeClock

TOKEN = "12345678901234567890123456789012"
URL = "https://ascolto.example.org/whatsapp"
NUMBER = "+393331234567"
SID = "SM" + "0" * 32
QUICK = "HX" + "1" * 32
LIST = "HX" + "2" * 32
WINDOW = "HX" + "3" * 32
AUDIO = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


def form(**extra: str) -> dict[str, str]:
    base = {"MessageSid": SID, "From": f"whatsapp:{NUMBER}", "To": "whatsapp:+14155238886", "NumMedia": "0"}
    return {**base, **extra}


def expected(**fields: Any) -> Inbound:
    return Inbound(channel="whatsapp", external_id=SID, sender=NUMBER, received_at=START, **fields)


INBOUND_CASES = {
    "text": (form(Body="Ciao"), expected(text="Ciao")),
    "button with version": (form(Body="Sì", ButtonPayload="7:si", ButtonText="Sì"), expected(choice="si", conversation_version=7)),
    "button from a template, no version": (form(ButtonPayload="si"), expected(choice="si")),
    "list picker": (form(ListId="3:spesa", ListTitle="Spesa"), expected(choice="spesa", conversation_version=3)),
    "location": (
        form(Latitude="44.4184", Longitude="12.2035", Body=""),
        expected(location=Location(44.4184, 12.2035)),
    ),
    "voice note": (
        form(NumMedia="1", MediaUrl0=AUDIO, MediaContentType0="audio/ogg"),
        expected(media=(Media(MediaKind.VOICE, AUDIO, "audio/ogg"),)),
    ),
    "photo with caption": (
        form(Body="il tetto", NumMedia="1", MediaUrl0=AUDIO, MediaContentType0="image/jpeg"),
        expected(text="il tetto", media=(Media(MediaKind.PHOTO, AUDIO, "image/jpeg"),)),
    ),
    "pdf": (
        form(NumMedia="1", MediaUrl0=AUDIO, MediaContentType0="application/pdf"),
        expected(media=(Media(MediaKind.DOCUMENT, AUDIO, "application/pdf"),)),
    ),
    "sticker or reaction: nothing we read": (form(Body="", MessageType="sticker"), expected(is_unsupported=True)),
    "coordinates out of range are ignored": (form(Latitude="91", Longitude="0"), expected(is_unsupported=True)),
}


@pytest.mark.parametrize(("fields", "inbound"), INBOUND_CASES.values(), ids=INBOUND_CASES.keys())
def test_twilio_form_becomes_an_inbound(fields: dict[str, str], inbound: Inbound) -> None:
    assert parse_inbound(fields, received_at=START) == inbound


BAD_CASES = {
    "no MessageSid": form(MessageSid=""),
    "no From": {"MessageSid": SID, "Body": "x"},
    "From not E.164": form(From="whatsapp:3331234567"),
}


@pytest.mark.parametrize("fields", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_unreadable_form_is_a_bad_request(fields: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        parse_inbound(fields, received_at=START)


def test_forged_twilio_signature_is_rejected() -> None:
    validator = RequestValidator(TOKEN)
    fields = form(Body="Ciao")
    good = validator.compute_signature(URL, fields)
    assert is_signed(validator, URL, fields, good)
    assert not is_signed(validator, URL, {**fields, "Body": "Ciao!"}, good)
    assert not is_signed(validator, "https://other.example.org/whatsapp", fields, good)
    assert not is_signed(validator, URL, fields, None)
    assert not is_signed(RequestValidator("x" * 32), URL, fields, good)
    assert not is_signed(validator, URL, fields, good[:-2] + "é=")  # not ASCII: refused, not an error


def test_a_signature_over_the_url_with_its_default_port_is_accepted_as_twilios_validator_accepts_it() -> None:
    """Twilio signs some requests over the URL with ``:443`` added (its validator checks both forms)."""
    validator = RequestValidator(TOKEN)
    fields = form(Body="Ciao")
    with_port = validator.compute_signature(URL.replace(".org/", ".org:443/"), fields)
    assert is_signed(validator, URL, fields, with_port)
    assert not is_signed(validator, URL, {**fields, "Body": "Ciao!"}, with_port)


STATUS_CASES = {
    "queued is sent": ({"MessageSid": SID, "MessageStatus": "queued"}, StatusReport(SID, "sent")),
    "delivered": ({"MessageSid": SID, "MessageStatus": "delivered"}, StatusReport(SID, "delivered")),
    "read": ({"MessageSid": SID, "MessageStatus": "read"}, StatusReport(SID, "read")),
    "undelivered is failed": (
        {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30008"},
        StatusReport(SID, "failed", "30008"),
    ),
    "outside the window": (
        {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "63016"},
        StatusReport(SID, "failed", "63016"),
    ),
}


@pytest.mark.parametrize(("fields", "report"), STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_status_callback_maps_to_outbox_status(fields: dict[str, str], report: StatusReport) -> None:
    assert parse_status(fields) == report


def test_unknown_status_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        parse_status({"MessageSid": SID, "MessageStatus": "teleported"})


# --- rendering -----------------------------------------------------------------

OPTIONS = (("si", "Sì"), ("no", "No"))
TEMPLATES = ContentTemplates(window=WINDOW, quick_reply={2: QUICK}, list_picker={3: LIST})


def out(text: str = "Sei d'accordo?", options: tuple[tuple[str, str], ...] = OPTIONS, **kw: Any) -> Outgoing:
    return Outgoing(outbox_id=1, recipient=NUMBER, text=text, options=options, number_hint="Rispondi con il numero.", conversation_version=4, **kw)


RENDER_CASES = {
    "numbered without templates": (
        out(),
        ContentTemplates(),
        TwilioMessage(body="Sei d'accordo?\n\n1. Sì\n2. No\n\nRispondi con il numero."),
    ),
    "quick reply for two options": (
        out(),
        TEMPLATES,
        TwilioMessage(content_sid=QUICK, content_variables={"1": "Sei d'accordo?", "2": "4:si", "3": "Sì", "4": "4:no", "5": "No"}),
    ),
    "list picker for three": (
        out(options=(("alta", "Alta"), ("media", "Media"), ("bassa", "Bassa"))),
        TEMPLATES,
        TwilioMessage(
            content_sid=LIST,
            content_variables={"1": "Sei d'accordo?", "2": "4:alta", "3": "Alta", "4": "4:media", "5": "Media", "6": "4:bassa", "7": "Bassa"},
        ),
    ),
    "a label too long for a button falls back to numbers": (
        out(options=(("si", "Sì, sono d'accordo con tutto"), ("no", "No"))),
        TEMPLATES,
        TwilioMessage(body="Sei d'accordo?\n\n1. Sì, sono d'accordo con tutto\n2. No\n\nRispondi con il numero."),
    ),
    "no options: plain text": (out("Grazie!", options=()), TEMPLATES, TwilioMessage(body="Grazie!")),
}


@pytest.mark.parametrize(("message", "templates", "rendered"), RENDER_CASES.values(), ids=RENDER_CASES.keys())
def test_render_inside_the_window(message: Outgoing, templates: ContentTemplates, rendered: TwilioMessage) -> None:
    assert render_session(message, templates) == rendered


def test_body_over_1600_characters_is_refused_not_truncated() -> None:
    with pytest.raises(Rejected):
        render_session(out("x" * (BODY_LIMIT + 1), options=()), ContentTemplates())
    assert render_session(out("x" * BODY_LIMIT, options=()), ContentTemplates()).body == "x" * BODY_LIMIT


def test_template_outside_the_window_flattens_the_text_into_one_variable() -> None:
    rendered = render_template(out("Novità sulla tua richiesta\nK7M-R4P:   risolta"), TEMPLATES)
    assert rendered is not None and rendered.content_sid == WINDOW
    assert rendered.content_variables == {
        "1": "Novità sulla tua richiesta K7M-R4P: risolta 1. Sì 2. No Rispondi con il numero."
    }
    assert render_template(out(), ContentTemplates()) is None
    assert len(template_variable("parola " * 400)) == 1000


# --- errors ----------------------------------------------------------------------


def rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", "x", code)


ERROR_CASES: dict[str, tuple[Exception, type[SendError], object]] = {
    "429 is throttled with our documented delay": (rest(429, 20429), Throttled, 5.0),
    "500 is transient": (rest(500, 20500), Transient, None),
    "503 is transient": (rest(503, None), Transient, None),
    "21610 opted out": (rest(400, 21610), Unsubscribed, 21610),
    "bad number is rejected with its code": (rest(400, 21211), Rejected, 21211),
    "wrong credentials wait for a fixed config": (rest(401, 20003), Transient, None),
    "network error is transient": (ConnectionResetError("reset"), Transient, None),
}


@pytest.mark.parametrize(("exc", "kind", "detail"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_twilio_errors_map_to_the_error_vocabulary(exc: Exception, kind: type[SendError], detail: object) -> None:
    mapped = map_error(exc)
    assert type(mapped) is kind
    if isinstance(mapped, Throttled):
        assert mapped.retry_after == detail
    elif isinstance(mapped, (Rejected, Unsubscribed)):
        assert mapped.code == detail


class _Messages:
    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    async def create_async(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return type("Created", (), {"sid": f"SM{len(self.calls)}"})()


class _Client:
    def __init__(self, *outcomes: Exception | None) -> None:
        self.messages = _Messages(*outcomes)


def sender(client: _Client, templates: ContentTemplates = TEMPLATES) -> WhatsAppSender:
    return WhatsAppSender(client, from_number="+14155238886", templates=templates, clock=FakeClock(START), status_callback="https://h/whatsapp/status")


WINDOW_CASES = {
    "inside the window: freeform": (timedelta(hours=23, minutes=59), None, "body"),
    "just outside: template": (timedelta(hours=24), None, "content_sid"),
    "never wrote: template": (None, None, "content_sid"),
    "Twilio said 63016 last time: template": (timedelta(minutes=1), "63016", "content_sid"),
}


@pytest.mark.parametrize(("age", "previous", "param"), WINDOW_CASES.values(), ids=WINDOW_CASES.keys())
async def test_24_hour_window_decides_freeform_or_template(age: timedelta | None, previous: str | None, param: str) -> None:
    client = _Client()
    last = None if age is None else START - age
    sid = await sender(client).send(out("Ciao", options=(), last_inbound_at=last, previous_error_code=previous))
    assert sid == "SM1"
    [call] = client.messages.calls
    assert param in call and call["to"] == f"whatsapp:{NUMBER}" and call["from_"] == "whatsapp:+14155238886"
    assert call["status_callback"] == "https://h/whatsapp/status?outbox=1"


async def test_outside_the_window_without_a_template_is_held() -> None:
    client = _Client()
    with pytest.raises(Held):
        await sender(client, ContentTemplates()).send(out(last_inbound_at=START - timedelta(days=2)))
    assert client.messages.calls == []


async def test_synchronous_63016_falls_back_to_the_template() -> None:
    client = _Client(rest(400, 63016))
    assert await sender(client).send(out(last_inbound_at=START)) == "SM2"
    first, second = client.messages.calls
    assert first["content_sid"] == QUICK and second["content_sid"] == WINDOW
