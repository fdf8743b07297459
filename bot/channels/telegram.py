"""Telegram, wired: PTB's Application, the intake behind the webhook or the poller, the command menu, the paced sender."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder, BaseRateLimiter

from bot.core import Core
from bot.channels.base import Channel
from bot.channels.telegram_polling import Poller, PollPolicy
from bot.channels.telegram_transport import AiohttpRequest
from bot.config import ConfigError, TelegramSettings, WebSettings
from conversations import MenuEntry, Msg, Translator
from handlers import telegram
from handlers.body_limit import JSON, BodyLimit
from handlers.telegram_intake import TelegramApp, TelegramIntake

logger = logging.getLogger(__name__)

SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What setWebhook accepts as secret_token (https://core.telegram.org/bots/api#setwebhook)."""

@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    path: str
    secret: str


def webhook_of(settings: TelegramSettings) -> Webhook | None:
    """The webhook from the settings, or None for long polling; a webhook without a secret is refused."""
    if not settings.webhook_url:
        return None
    if settings.webhook_secret is None:
        raise ConfigError(
            "telegram.webhook_secret: required when telegram.webhook_url is set; "
            "set ASCOLTO_TELEGRAM__WEBHOOK_SECRET (1-256 characters: A-Z, a-z, 0-9, _ and -)"
        )
    secret = settings.webhook_secret.get_secret_value()
    if not SECRET_TOKEN.fullmatch(secret):
        raise ConfigError("telegram.webhook_secret: expected 1-256 characters among A-Z, a-z, 0-9, _ and -")
    parts = urlsplit(settings.webhook_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError("telegram.webhook_url: expected a URL like https://ascolto.example.org/telegram")
    return Webhook(settings.webhook_url, parts.path or "/", secret)


def webhook_limit(web: WebSettings) -> BodyLimit:
    """The webhook's body: JSON of at most `[web] max_json_bytes`, within `[web] body_seconds`."""
    return BodyLimit(web.max_json_bytes, JSON, web.body_seconds)


async def start(
    application: TelegramApp, translator: Translator, menu: Sequence[MenuEntry], webhook: Webhook | None = None
) -> None:
    """getMe (a wrong token stops start-up here), the command menu, then setWebhook when there is one."""
    try:
        await application.initialize()
    except Exception as exc:
        # The Application does not count as initialized, so its shutdown would skip the Bot's
        # HTTP clients, already open: close them here.
        await application.bot.shutdown()
        if isinstance(exc, InvalidToken):
            raise ConfigError("telegram.token: Telegram refused the token; check ASCOLTO_TELEGRAM__TOKEN") from None
        raise
    await register_commands(application, translator, menu)
    if webhook is not None:
        await application.bot.set_webhook(
            webhook.url, secret_token=webhook.secret, allowed_updates=list(telegram.ALLOWED_UPDATES)
        )
        logger.info("telegram: webhook set on %s", webhook.path)


async def register_commands(application: TelegramApp, translator: Translator, menu: Sequence[MenuEntry]) -> None:
    """The command menu in Italian (the default) and English, from the commands' specs (`Engine.menu`);
    best-effort, the bot works without it."""
    for language in (None, "en"):
        commands = [
            BotCommand(entry.english if language else entry.italian, translator.format(Msg(entry.description), language or "it"))
            for entry in menu
        ]
        try:
            await application.bot.set_my_commands(commands, language_code=language)
        except TelegramError as exc:
            logger.warning("telegram: command menu (%s) not set: %s", language or "default", type(exc).__name__)


def build_application(settings: TelegramSettings, *, rate_limiter: BaseRateLimiter[Any] | None = None) -> TelegramApp:
    """PTB's Application without its Updater (we poll ourselves) and with the 30/s overall limiter.

    max_retries=0: a RetryAfter reaches the dispatcher, which owns retries and knows the outbox.
    The bot's calls go over aiohttp (`telegram_transport`); long polling keeps PTB's own request.
    """
    if settings.token is None:
        raise ConfigError("telegram.token: set ASCOLTO_TELEGRAM__TOKEN (the token @BotFather gave you)")
    # With max_retries=0 the limiter logs every RetryAfter it passes on as an ERROR with a traceback;
    # the dispatcher logs and reschedules the message itself, so that would be noise.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    # httpx logs every request's URL at INFO, and a Bot API URL carries the bot's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application: TelegramApp = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .request(AiohttpRequest())
        .rate_limiter(rate_limiter if rate_limiter is not None else AIORateLimiter(max_retries=0))
        .updater(None)
        .build()
    )
    return application


async def build(
    core: Core, *, rate_limiter: BaseRateLimiter[Any] | None = None, poll: PollPolicy = PollPolicy()
) -> Channel:
    """The Telegram channel: long polling by default, the webhook route when `webhook_url` is set."""
    settings = core.settings.telegram
    webhook = webhook_of(settings)
    application = build_application(settings, rate_limiter=rate_limiter)
    translator, language = core.translator, core.settings.app.language
    intake = TelegramIntake(
        application,
        core.pipeline,
        clock=core.clock,
        invitation=lambda username: translator.format(Msg("telegram.group_invite", {"username": username}), language),
    )
    sender = telegram.TelegramSender(
        application.bot,
        per_chat_per_second=settings.per_chat_per_second,
        overall_per_second=settings.overall_per_second,
    )

    async def startup() -> None:
        await start(application, translator, core.engine.menu, webhook)

    async def fetch_audio(file_id: str, content_type: str | None, folder: Path) -> Path:
        """A voice note through the Bot API (getFile, then the file URL), for the transcriber."""
        file = await application.bot.get_file(file_id)
        return Path(await file.download_to_drive(folder / f"{uuid.uuid4().hex}.oga"))

    if webhook is None:
        poller = Poller(application.bot, intake.process, poll)
        return Channel(
            name=telegram.CHANNEL, sender=sender, tasks=[poller.run], startup=startup, shutdown=application.shutdown,
            fetch_audio=fetch_audio,
        )
    return Channel(
        name=telegram.CHANNEL,
        sender=sender,
        routes=[intake.route(webhook.path, webhook.secret, limit=webhook_limit(core.settings.web))],
        startup=startup,
        shutdown=application.shutdown,
        fetch_audio=fetch_audio,
    )
