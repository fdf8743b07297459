"""WhatsApp through Twilio, wired: the REST client, the sender and the two signed webhook routes."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from datetime import datetime
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl

import httpx
from aiolimiter import AsyncLimiter
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.app import Core
from bot.channels.base import Channel, Task
from bot.config import ConfigError, WhatsAppSettings
from bot.media import MediaFetcher, MediaPolicy
from handlers import whatsapp
from storage import delivery
from storage.db import transaction
from storage.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

INBOUND_PATH: Final = "/whatsapp"
STATUS_PATH: Final = "/whatsapp/status"
FILES_PATH: Final = "/whatsapp/files"
"""Attachments (digest charts, exports) by capability URL: Twilio fetches media by URL."""


def file_signature(auth_token: str, outbox_id: int) -> str:
    """An unguessable token for one outbox row's attachment, keyed on the account's secret."""
    return hmac.new(auth_token.encode(), f"file:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:32]
EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
"""Twilio reads our answer as TwiML: an empty <Response/> says "received, nothing to say now"."""
REQUEST_TIMEOUT_SECONDS: Final = 10.0
MEDIA_TIMEOUT_SECONDS: Final = 60.0
"""A 16 MB video over a slow link; a timeout is retried (`[whatsapp] media_max_attempts`)."""


def templates_of(settings: WhatsAppSettings) -> whatsapp.ContentTemplates:
    content = settings.content
    return whatsapp.ContentTemplates(
        window=content.window_template_sid,
        quick_reply=MappingProxyType(dict(content.quick_reply)),
        list_picker=MappingProxyType(dict(content.list_picker)),
    )


def limiter_for(messages_per_second: float) -> AsyncLimiter:
    """aiolimiter wants at least one message a period: 0.5/s becomes 1 every 2 s."""
    capacity = max(1.0, messages_per_second)
    return AsyncLimiter(capacity, capacity / messages_per_second)


async def build(core: Core) -> Channel:
    """The WhatsApp channel from `[whatsapp]` settings and the two credentials in the environment."""
    settings = core.settings.whatsapp
    if settings.account_sid is None or settings.auth_token is None:
        raise ConfigError("whatsapp: set ASCOLTO_WHATSAPP__ACCOUNT_SID and ASCOLTO_WHATSAPP__AUTH_TOKEN")
    if not settings.from_number:
        raise ConfigError("whatsapp.from_number: expected the WhatsApp sender, e.g. +14155238886")
    if settings.public_base_url is None:
        raise ConfigError("whatsapp.public_base_url: expected https://HOST as Twilio reaches it")
    auth_token = settings.auth_token.get_secret_value()
    http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS)
    client = Client(settings.account_sid.get_secret_value(), auth_token, http_client=http)
    # Every api.twilio.com URL is built from this attribute (twilio/base/domain.py): staging or a fake.
    client.api.base_url = settings.api_base_url
    templates = templates_of(settings)
    sender = whatsapp.WhatsAppSender(
        client,
        from_number=settings.from_number,
        templates=templates,
        status_callback=settings.public_base_url + STATUS_PATH,
        limiter=limiter_for(settings.messages_per_second),
        clock=core.pipeline.clock,
        media_url=lambda outbox_id: (
            f"{settings.public_base_url}{FILES_PATH}/{outbox_id}/{file_signature(auth_token, outbox_id)}"
        ),
    )
    tasks: list[Task] = []
    media_http: httpx.AsyncClient | None = None
    if settings.download_media:
        # trust_env=False like the twilio client's aiohttp session: no proxy from the environment sees the token.
        media_http = httpx.AsyncClient(timeout=MEDIA_TIMEOUT_SECONDS, trust_env=False)
        # httpx logs every request's full URL at INFO; a media URL names the account and the message.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        fetcher = media_fetcher(core, media_http)
        core.pipeline.on_media = fetcher.wake
        tasks.append(fetcher.run_forever)

    async def shutdown() -> None:
        await http.close()
        if media_http is not None:
            await media_http.aclose()

    return Channel(
        name=whatsapp.CHANNEL,
        sender=sender,
        tasks=tasks,
        routes=routes(
            core,
            validator=RequestValidator(auth_token),
            public_base_url=settings.public_base_url,
            templates=templates,
        )
        + [file_route(core, auth_token)],
        shutdown=shutdown,
    )


def media_fetcher(core: Core, http: httpx.AsyncClient) -> MediaFetcher:
    """The downloader of inbound media, with the account's credentials from the environment."""
    settings = core.settings.whatsapp
    assert settings.account_sid is not None and settings.auth_token is not None
    return MediaFetcher(
        core.sessions,
        http,
        account_sid=settings.account_sid.get_secret_value(),
        auth_token=settings.auth_token.get_secret_value(),
        policy=MediaPolicy(
            directory=settings.media_dir,
            api_base_url=settings.api_base_url,
            max_bytes=settings.media_max_bytes,
            max_attempts=settings.media_max_attempts,
        ),
        clock=core.pipeline.clock,
    )


def routes(
    core: Core,
    *,
    validator: RequestValidator,
    public_base_url: str,
    templates: whatsapp.ContentTemplates,
    clock: Callable[[], datetime] | None = None,
) -> list[BaseRoute]:
    """``POST /whatsapp`` (incoming messages) and ``POST /whatsapp/status`` (delivery status)."""
    now = clock or core.pipeline.clock

    async def signed_form(request: Request) -> dict[str, str] | None:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        # Twilio signs the URL it called: behind a proxy that is the public one, not request.url.
        url = public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not whatsapp.is_signed(validator, url, form, request.headers.get("X-Twilio-Signature")):
            logger.warning("whatsapp: request to %s with a missing or wrong signature refused", request.url.path)
            return None
        return form

    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        try:
            event = whatsapp.parse_inbound(form, received_at=now())
        except whatsapp.BadRequest as exc:
            logger.warning("whatsapp: unreadable message %s: %s", form.get("MessageSid", "?"), exc)
            return Response(status_code=400)
        try:
            # Acknowledge only what is committed: a 503 makes Twilio try again, and the
            # inbound unique key makes that retry harmless.
            await core.pipeline.handle(event)
        except Exception as exc:  # the database is down or failing: nothing was written
            logger.error("whatsapp: message %s not stored (%s), answering 503", event.external_id, type(exc).__name__)
            return Response(status_code=503)
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        try:
            report = whatsapp.parse_status(form)
        except whatsapp.BadRequest as exc:
            logger.warning("whatsapp: unreadable status callback %s: %s", form.get("MessageSid", "?"), exc)
            return Response(status_code=400)
        raw_id = request.query_params.get("outbox", "")
        outbox_id = int(raw_id) if raw_id.isdigit() else None
        try:
            is_resent = await apply_status(core, report, outbox_id=outbox_id, templates=templates, now=now())
        except Exception as exc:
            logger.error("whatsapp: status of %s not stored (%s)", report.message_sid, type(exc).__name__)
            return Response(status_code=503)
        if is_resent and core.pipeline.on_commit is not None:
            core.pipeline.on_commit()
        return Response(status_code=204)

    return [
        Route(INBOUND_PATH, inbound, methods=["POST"]),
        Route(STATUS_PATH, status, methods=["POST"]),
    ]


def file_route(core: Core, auth_token: str) -> BaseRoute:
    """Serves an outbox row's attachment to whoever holds its signed URL (Twilio), nothing else."""

    async def serve_file(request: Request) -> Response:
        try:
            outbox_id = int(request.path_params["outbox_id"])
        except ValueError:
            return Response(status_code=404)
        if not hmac.compare_digest(str(request.path_params["signature"]), file_signature(auth_token, outbox_id)):
            return Response(status_code=404)
        async with core.sessions() as session:
            row = await session.get(OutboxMessage, outbox_id)
        if row is None or row.attachment_path is None or not Path(row.attachment_path).is_file():
            return Response(status_code=404)
        return FileResponse(row.attachment_path, media_type=row.attachment_type)

    return Route(FILES_PATH + "/{outbox_id}/{signature}", serve_file, methods=["GET"])


async def apply_status(
    core: Core,
    report: whatsapp.StatusReport,
    *,
    outbox_id: int | None,
    templates: whatsapp.ContentTemplates,
    now: datetime,
) -> bool:
    """Record a delivery status; a 63016 failure is resent as the template (or held). True if resent."""
    async with transaction(core.sessions) as session:
        update = await delivery.record_status(
            session,
            provider_message_id=report.message_sid,
            status=report.status,
            error_code=report.error_code,
            outbox_id=outbox_id,
        )
        row = update.row
        if row is None or not update.changed:
            logger.info("whatsapp: status %s of %s ignored (unknown or not newer)", report.status, report.message_sid)
            return False
        assert row.id is not None
        logger.info("outbox %s is now %s (%s)", row.id, row.status, report.error_code or "ok")
        is_window_closed = row.status == OutboxStatus.FAILED and whatsapp.is_outside_window_error(report.error_code)
        if not is_window_closed or whatsapp.is_outside_window_error(update.previous_error_code):
            return False  # a template that fails 63016 again is not resent (that would loop)
        if templates.window is None:
            await delivery.hold(
                session,
                message_id=row.id,
                reason="Held: outside the 24-hour window (Twilio 63016) and no approved template configured",
                error_code=report.error_code,
            )
            logger.warning("outbox %s held: outside the window, no template", row.id)
            return False
        copy = await delivery.resend(session, row=row, error_code=report.error_code or "", now=now)
        logger.info("outbox %s failed outside the window: resent as template in outbox %s", row.id, copy.id)
        return True
