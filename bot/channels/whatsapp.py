"""WhatsApp through Twilio, wired: the REST client, the sender, the media fetcher and the webhook routes of handlers/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final

import httpx
from aiolimiter import AsyncLimiter
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.core import Core
from bot.channels.base import Channel, Task
from bot.config import ConfigError, WhatsAppSettings
from bot.media import MediaFetcher, MediaPolicy
from handlers import whatsapp, whatsapp_web
from handlers.body_limit import FORM, BodyLimit
from storage import delivery
from storage.db import transaction
from storage.models import OutboxStatus

logger = logging.getLogger(__name__)

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
    # twilio logs each request's URL and headers at INFO (the account, and for lookups the numbers): WARNING and up.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS)
    client = Client(settings.account_sid.get_secret_value(), auth_token, http_client=http)
    # Every api.twilio.com URL is built from this attribute (twilio/base/domain.py): staging or a fake.
    client.api.base_url = settings.api_base_url
    templates = templates_of(settings)
    sender = whatsapp.WhatsAppSender(
        client,
        from_number=settings.from_number,
        templates=templates,
        status_callback=settings.public_base_url + whatsapp_web.STATUS_PATH,
        limiter=limiter_for(settings.messages_per_second),
        media_limiter=limiter_for(settings.media_messages_per_second),
        clock=core.clock,
        media_url=whatsapp_web.media_url(
            settings.public_base_url, auth_token, clock=core.clock, valid_for=timedelta(minutes=settings.file_link_minutes)
        ),
    )
    tasks: list[Task] = []
    media_http: httpx.AsyncClient | None = None
    fetch_audio = None
    if settings.download_media or core.settings.voice.enabled:
        # trust_env=False like the twilio client's aiohttp session: no proxy from the environment sees the token.
        media_http = httpx.AsyncClient(timeout=MEDIA_TIMEOUT_SECONDS, trust_env=False)
        # httpx logs every request's full URL at INFO; a media URL names the account and the message.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        fetcher = media_fetcher(core, media_http)
        fetch_audio = audio_of(fetcher)
        if settings.download_media:
            core.wakeups.on_media(fetcher.wake)
            tasks.append(fetcher.run_forever)

    async def shutdown() -> None:
        await http.close()
        if media_http is not None:
            await media_http.aclose()

    async def attachment(outbox_id: int) -> tuple[str, str | None] | None:
        async with core.sessions() as session:
            return await delivery.attachment(session, outbox_id=outbox_id)

    web = core.settings.web
    routes = whatsapp_web.routes(
        core.pipeline,
        StatusCommits(core, templates),
        validator=RequestValidator(auth_token),
        public_base_url=settings.public_base_url,
        clock=core.clock,
        limit=BodyLimit(web.max_form_bytes, FORM, web.body_seconds),
        max_fields=web.max_form_fields,
    )
    return Channel(
        name=whatsapp.CHANNEL,
        sender=sender,
        tasks=tasks,
        routes=[*routes, whatsapp_web.file_route(auth_token, attachment, clock=core.clock)],
        shutdown=shutdown,
        fetch_audio=fetch_audio,
    )


def audio_of(fetcher: MediaFetcher) -> Callable[[str, str | None, Path], Awaitable[Path]]:
    """A voice note through the authenticated media download, for the transcriber (which deletes it once heard)."""

    async def fetch(url: str, content_type: str | None, folder: Path) -> Path:
        part, _, _, _ = await fetcher.download(url, content_type)
        return part

    return fetch


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
        clock=core.clock,
    )


class StatusCommits:
    """The status sink of the webhook: plain progress reports waiting at one moment share one transaction.

    A report joins the list of those waiting; one committer task applies the whole list in one
    transaction (`delivery.advance_many`) while the next reports gather, as the dispatcher's sent
    marks do. Each caller returns only once the commit that holds its update landed, and raises
    when that commit failed (the webhook answers 503 and Twilio sends the callback again).
    Failures and other reports with an error code keep their own transaction (`apply_status`).
    """

    def __init__(self, core: Core, templates: whatsapp.ContentTemplates) -> None:
        self.core = core
        self.templates = templates
        self._waiting: list[tuple[delivery.Progress, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def __call__(self, report: whatsapp.StatusReport, *, outbox_id: int | None) -> None:
        if not delivery.is_plain_progress(report.status, report.error_code):
            if await apply_status(self.core, report, outbox_id=outbox_id, templates=self.templates, now=self.core.clock()):
                self.core.wakeups.outbox()
            return
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery.Progress(report.message_sid, report.status, outbox_id), committed))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_waiting(), name="whatsapp-statuses")
        await committed

    async def _commit_waiting(self) -> None:
        batch: list[tuple[delivery.Progress, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    async with transaction(self.core.sessions, on_the_loop=True) as session:
                        moved = await delivery.advance_many(session, [progress for progress, _ in batch])
                except Exception as exc:  # every callback of the batch is answered 503, and retried
                    for _, committed in batch:
                        if not committed.done():
                            committed.set_exception(exc)
                    continue
                if 0 <= moved < len(batch):
                    logger.info("whatsapp: %s of %s status reports ignored (unknown or not newer)", len(batch) - moved, len(batch))
                for _, committed in batch:
                    if not committed.done():
                        committed.set_result(None)
                batch = []
        finally:
            self._committer = None
            for _, committed in batch + self._waiting:  # cancelled (shut down): nobody is answered 204
                if not committed.done():
                    committed.set_exception(ConnectionError("status callbacks stopped"))
            self._waiting = []


async def apply_status(
    core: Core,
    report: whatsapp.StatusReport,
    *,
    outbox_id: int | None,
    templates: whatsapp.ContentTemplates,
    now: datetime,
) -> bool:
    """Record a delivery status; a 63016 failure is resent as the template (or held). True if resent."""
    if delivery.is_plain_progress(report.status, report.error_code):
        # Two of every three callbacks (sent, delivered): one guarded UPDATE, no read-modify-write.
        async with transaction(core.sessions, on_the_loop=True) as session:
            moved = await delivery.advance_status(
                session, provider_message_id=report.message_sid, status=report.status, outbox_id=outbox_id
            )
        if not moved:
            logger.info("whatsapp: status %s of %s ignored (unknown or not newer)", report.status, report.message_sid)
        return False
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
