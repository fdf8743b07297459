"""The WhatsApp channel through Twilio: signed webhooks in, REST API messages out, Twilio errors mapped."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from aiolimiter import AsyncLimiter
from twilio.request_validator import RequestValidator

from conversations import MAX_ROW_ID, Channel, Inbound, Location, Media, MediaKind, channels, small_int
from handlers.console import render_numbered
from handlers.errors import Held, Rejected, SendError, Throttled, Transient, Unsubscribed
from handlers.render import text_limit
from handlers.types import Outgoing

logger = logging.getLogger(__name__)

CHANNEL: Final[str] = Channel.WHATSAPP
PREFIX: Final = "whatsapp:"
BODY_LIMIT: Final = text_limit(CHANNEL)
"""1600 characters a body: https://www.twilio.com/docs/api/errors/21617."""

THROTTLE_RETRY_SECONDS: Final = 5.0
"""Twilio's 429 (error 20429) carries no Retry-After header; we wait this long before trying again."""

# Twilio error codes we act on (https://www.twilio.com/docs/api/errors/<code>).
ERROR_TOO_MANY_REQUESTS: Final = 20429
ERROR_UNSUBSCRIBED: Final = 21610
"""The recipient replied STOP: every send fails until they opt in again."""
ERROR_OUTSIDE_WINDOW: Final = 63016
"""A freeform message outside the 24-hour window: only an approved template may be sent."""
ERROR_AUTHENTICATION: Final = 20003

STATUS_MAP: Final = MappingProxyType(
    {
        "accepted": "sent",
        "queued": "sent",
        "sending": "sent",
        "sent": "sent",
        "delivered": "delivered",
        "read": "read",
        "failed": "failed",
        "undelivered": "failed",
    }
)
"""Twilio MessageStatus -> outbox status (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values)."""

QUICK_REPLY_BODY_LIMIT: Final = 1024
QUICK_REPLY_TITLE_LIMIT: Final = 20
LIST_ITEM_TITLE_LIMIT: Final = 24
TEMPLATE_VARIABLE_LIMIT: Final = 1000
"""Meta caps a template body at 1024 characters; the variable must leave room for the fixed text."""

_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")
_VERSIONED: Final = re.compile(r"^(\d{1,9}):(.+)$")


class BadRequest(ValueError):
    """A signed request we cannot read (missing MessageSid or From): answered 400."""


# --- inbound ------------------------------------------------------------------


class _Fields(dict[str, str]):
    """A form as twilio's validator reads it: a field's values by `getall` (as of a MultiDict), else it
    tries `getall`, then `getlist`, and only then `[name]`, paying two exceptions a field."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def is_signed(validator: RequestValidator, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """Twilio's own check of X-Twilio-Signature over the public URL and the form fields.

    First twilio's `compute_signature` over the URL exactly as we were called, the one Twilio
    signs: one HMAC. Only when that does not match, twilio's `validate`, which tries the URL
    without and with its default port (Twilio's back end signs either): two more. So the
    signatures accepted are exactly those `validate` accepts (the first URL is one of its two).
    """
    if not signature:
        return False
    params = _Fields(form)
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode("utf-8", "replace")):
        return True
    return bool(validator.validate(url, params, signature))


def phone_number(address: str) -> str:
    """``whatsapp:+393331234567`` -> ``+393331234567``; raises `BadRequest` if it is not E.164."""
    number = address.removeprefix(PREFIX).strip()
    if not _E164.match(number):
        raise BadRequest("From is not an E.164 WhatsApp address")
    return number


def parse_inbound(form: Mapping[str, str], *, received_at: datetime) -> Inbound:
    """A Twilio incoming-message webhook as a channel-neutral `Inbound`.

    Fields: https://www.twilio.com/docs/messaging/guides/webhook-request and
    https://www.twilio.com/docs/whatsapp/api#incoming-message-webhook-parameters.
    """
    sid = form.get("MessageSid", "").strip()
    if not sid:
        raise BadRequest("no MessageSid")
    sender = phone_number(form.get("From", ""))
    text = form.get("Body") or None
    # A quick-reply tap sends ButtonPayload, a list-picker choice ListId: both carry the id we set.
    payload = form.get("ButtonPayload") or form.get("ListId") or None
    choice, version = _unpack_payload(payload) if payload else (None, None)
    location = _location(form)
    media = _media(form)
    is_unsupported = not (text or choice or location or media)
    return Inbound(
        channel=CHANNEL,
        external_id=sid,
        sender=sender,
        received_at=received_at,
        text=None if choice else text,
        choice=choice,
        conversation_version=version,
        location=location,
        media=media,
        is_unsupported=is_unsupported,
    )


def _unpack_payload(payload: str) -> tuple[str, int | None]:
    # Our buttons carry "<conversation version>:<option payload>" so a stale button is refused.
    match = _VERSIONED.match(payload)
    if match is None:
        return payload, None
    return match.group(2), int(match.group(1))


def _location(form: Mapping[str, str]) -> Location | None:
    try:
        latitude, longitude = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return Location(latitude, longitude)


def _media(form: Mapping[str, str]) -> tuple[Media, ...]:
    count = min(small_int(form.get("NumMedia", ""), MAX_ROW_ID) or 0, 10)  # Twilio sends at most 10
    found: list[Media] = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if not url:
            continue
        content_type = form.get(f"MediaContentType{index}") or None
        found.append(Media(kind=media_kind(content_type), ref=url, content_type=content_type))
    return tuple(found)


def media_kind(content_type: str | None) -> MediaKind:
    """WhatsApp voice notes arrive as audio/ogg: every audio/* is a voice note to the engine."""
    main = (content_type or "").split("/", 1)[0]
    if main == "audio":
        return MediaKind.VOICE
    if main == "image":
        return MediaKind.PHOTO
    if main == "video":
        return MediaKind.VIDEO
    if main in {"application", "text"}:
        return MediaKind.DOCUMENT
    return MediaKind.OTHER


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One signed status callback: which message, what became of it, and Twilio's error code."""

    message_sid: str
    status: str
    """Already mapped to an outbox status (``undelivered`` -> ``failed``)."""
    error_code: str | None = None


def parse_status(form: Mapping[str, str]) -> StatusReport:
    sid = form.get("MessageSid", "").strip()
    raw = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or raw not in STATUS_MAP:
        raise BadRequest("no MessageSid or an unknown MessageStatus")
    code = (form.get("ErrorCode") or "").strip() or None
    return StatusReport(message_sid=sid, status=STATUS_MAP[raw], error_code=code)


def is_outside_window_error(code: str | int | None) -> bool:
    return code is not None and str(code) == str(ERROR_OUTSIDE_WINDOW)


# --- rendering ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentTemplates:
    """Approved Content templates (ContentSid "HX…") configured in ``[whatsapp.content]``.

    `window` has one variable, ``{{1}}``, the message text; it is what we may send
    outside the 24-hour window. `quick_reply` and `list_picker` map a number of
    options to a template whose variables are ``{{1}}`` the text, then for option
    n ``{{2n}}`` its id and ``{{2n+1}}`` its title.
    """

    window: str | None = None
    quick_reply: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    list_picker: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class TwilioMessage:
    """The parameters of one Messages create: a body, or a ContentSid with its variables."""

    body: str | None = None
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = None


def button_id(message: Outgoing, payload: str) -> str:
    return payload if message.conversation_version is None else f"{message.conversation_version}:{payload}"


def render_session(message: Outgoing, templates: ContentTemplates) -> TwilioMessage:
    """A message inside the window: a quick-reply or list-picker template when one fits, else text.

    Options become a numbered list ("Rispondi con il numero") unless a template
    for exactly that many options is configured and every label fits WhatsApp's
    limits (20 characters a button title, 24 a list item, 1024 a body).
    """
    count = len(message.options)
    if count and len(message.text) <= QUICK_REPLY_BODY_LIMIT:
        labels = [label for _, label in message.options]
        sid = templates.quick_reply.get(count)
        if sid and all(len(label) <= QUICK_REPLY_TITLE_LIMIT for label in labels):
            return TwilioMessage(content_sid=sid, content_variables=_option_variables(message))
        sid = templates.list_picker.get(count)
        if sid and all(len(label) <= LIST_ITEM_TITLE_LIMIT for label in labels):
            return TwilioMessage(content_sid=sid, content_variables=_option_variables(message))
    body = render_numbered(message.text, message.options, message.number_hint)
    if len(body) > BODY_LIMIT:  # the pipeline leaves room for the list; this is only a guard
        raise Rejected("body-too-long", f"outbox {message.outbox_id}: {len(body)} characters")
    return TwilioMessage(body=body)


def _option_variables(message: Outgoing) -> dict[str, str]:
    variables = {"1": message.text}
    for n, (payload, label) in enumerate(message.options, start=1):
        variables[str(2 * n)] = button_id(message, payload)
        variables[str(2 * n + 1)] = label
    return variables


def render_template(message: Outgoing, templates: ContentTemplates) -> TwilioMessage | None:
    """The message outside the window, as the approved `window` template; None when none is configured."""
    if templates.window is None:
        return None
    text = render_numbered(message.text, message.options, message.number_hint)
    return TwilioMessage(content_sid=templates.window, content_variables={"1": template_variable(text)})


def template_variable(text: str) -> str:
    """Meta refuses template variables with new lines, tabs or more than four spaces in a row."""
    flat = " ".join(text.split())
    if len(flat) > TEMPLATE_VARIABLE_LIMIT:
        flat = flat[: TEMPLATE_VARIABLE_LIMIT - 1].rstrip() + "…"
    return flat or " "


def is_window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """WhatsApp's customer-service window (`ChannelTraits.reply_window`): freeform messages only within 24 h."""
    return channels.is_window_open(CHANNEL, last_inbound_at, now)


# --- errors -------------------------------------------------------------------


def map_error(exc: Exception) -> SendError:
    """A Twilio failure as Ascolto's error vocabulary (the dispatcher decides from the class).

    `exc` is a ``TwilioRestException`` or ``TwilioServiceException`` (both carry
    `status` and `code`), or a network error from aiohttp.
    """
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if not isinstance(status, int):
        return Transient(type(exc).__name__)
    if status == 429 or code == ERROR_TOO_MANY_REQUESTS:
        return Throttled(THROTTLE_RETRY_SECONDS, f"HTTP 429 ({code})")
    if status >= 500:
        return Transient(f"HTTP {status} ({code})")
    if code == ERROR_UNSUBSCRIBED:
        return Unsubscribed(f"Twilio {code}: the recipient opted out", code=code)
    if status == 401 or code == ERROR_AUTHENTICATION:
        # Wrong credentials fail every message alike; back off so a fixed config still sends them.
        logger.error("Twilio refused our credentials (HTTP %s, %s): check the account SID and auth token", status, code)
        return Transient(f"HTTP {status} ({code})")
    return Rejected(code if code is not None else status, f"HTTP {status}")


# --- sending ------------------------------------------------------------------


class WhatsAppSender:
    """Sends outbox rows through Twilio's Messages API, inside or outside the 24-hour window.

    Outside the window (by `Outgoing.last_inbound_at`, or because Twilio answered
    63016 for this row before) only the approved template may go; with none
    configured the row is `Held`, never dropped.
    """

    channel = CHANNEL

    def __init__(
        self,
        client: Any,  # twilio.rest.Client: the library is untyped
        *,
        from_number: str,
        templates: ContentTemplates = ContentTemplates(),
        status_callback: str | None = None,
        limiter: AsyncLimiter | None = None,
        media_limiter: AsyncLimiter | None = None,
        clock: Callable[[], datetime],
        media_url: Callable[[int], str] | None = None,
    ) -> None:
        self.media_url = media_url
        """Public URL Twilio fetches an outbox row's attachment from (WhatsApp sends media by URL)."""
        self.client = client
        self.from_address = PREFIX + from_number.removeprefix(PREFIX)
        self.templates = templates
        self.status_callback = status_callback
        self.limiter = limiter or AsyncLimiter(1, 1)
        """The sender's throughput, text and media alike (Twilio: one queue a sender)."""
        self.media_limiter = media_limiter
        """Messages with media also wait here: Twilio's media throughput stays lower when text is raised."""
        self.clock = clock

    async def send(self, message: Outgoing) -> str | None:
        must_use_template = is_outside_window_error(message.previous_error_code) or not is_window_open(
            message.last_inbound_at, self.clock()
        )
        if must_use_template:
            return await self._send_template(message)
        try:
            return await self._create(message, render_session(message, self.templates))
        except SendError:
            raise
        except Exception as exc:
            if is_outside_window_error(getattr(exc, "code", None)):
                # Our record of the window can be wrong (another device, clock skew): Twilio knows.
                return await self._send_template(message)
            raise map_error(exc) from exc

    async def _send_template(self, message: Outgoing) -> str | None:
        rendered = render_template(message, self.templates)
        if rendered is None:
            raise Held("outside the 24-hour window and no approved template configured")
        try:
            return await self._create(message, rendered)
        except SendError:
            raise
        except Exception as exc:
            raise map_error(exc) from exc

    async def _create(self, message: Outgoing, rendered: TwilioMessage) -> str | None:
        kwargs: dict[str, Any] = {"from_": self.from_address, "to": PREFIX + message.recipient}
        if rendered.content_sid is not None:
            kwargs["content_sid"] = rendered.content_sid
            kwargs["content_variables"] = json.dumps(dict(rendered.content_variables or {}), ensure_ascii=False)
        else:
            kwargs["body"] = rendered.body
            if message.attachment_path is not None and self.media_url is not None:
                kwargs["media_url"] = [self.media_url(message.outbox_id)]
        if self.status_callback is not None:
            # The outbox id in the URL finds the row even if the callback beats our "sent" commit.
            kwargs["status_callback"] = f"{self.status_callback}?outbox={message.outbox_id}"
        if "media_url" in kwargs and self.media_limiter is not None:
            await self.media_limiter.acquire()  # the media rate first: a waiting chart takes no text's turn
        async with self.limiter:
            created = await self.client.messages.create_async(**kwargs)
        sid = getattr(created, "sid", None)
        logger.info("outbox %s sent to Twilio as %s", message.outbox_id, sid)
        return str(sid) if sid else None
