"""Telegram, wired: PTB's Application, the webhook route or the poller, the command menu and the paced sender."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseRateLimiter, CallbackContext, TypeHandler

from bot.app import Core
from bot.channels.base import Channel
from bot.config import ConfigError, TelegramSettings
from bot.channels.telegram_polling import Poller, PollPolicy
from conversations import Msg
from handlers import telegram
from storage.db import is_sqlite

logger = logging.getLogger(__name__)

# Any at the provider boundary: PTB's Application has six type parameters and we use none of them.
TelegramApp: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = CallbackContext[Any, Any, Any, Any]

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What setWebhook accepts as secret_token (https://core.telegram.org/bots/api#setwebhook)."""

COMMANDS: Final = (
    (Msg("telegram.command_new"), "nuovo", "new"),
    (Msg("telegram.command_mine"), "miei", "mine"),
    (Msg("telegram.command_back"), "indietro", "back"),
    (Msg("telegram.command_cancel"), "annulla", "cancel"),
    (Msg("telegram.command_help"), "aiuto", "help"),
    (Msg("telegram.command_privacy"), "privacy", "privacy"),
)
"""The menu next to the text box: (description, Italian command, English command); every name is
a global command of the engine (conversations/commands.py)."""


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


class TelegramIntake:
    """Hands every update to the pipeline; `process` returns only once the update is committed."""

    def __init__(self, core: Core, application: TelegramApp) -> None:
        self.core = core
        self.application = application
        self._failures: dict[int, BaseException] = {}
        # SQLite has one writer at a time; concurrent webhook requests would each wait on its busy
        # timeout, which polls with growing sleeps and is not fair (some waited > 5 s in the bench).
        # Queued here, in order, they go through one after the other at full speed. PostgreSQL
        # locks one citizen at a time, so there they run side by side.
        self._one_at_a_time = asyncio.Lock() if is_sqlite(core.settings.database.url) else None
        application.add_handler(TypeHandler(Update, self._on_update))
        # PTB hands a handler's exception to the error handlers, not to process_update's caller:
        # we keep it so the caller can refuse to confirm the update.
        application.add_error_handler(self._on_error)

    # --- start and stop -------------------------------------------------------------

    async def start(self, webhook: Webhook | None = None) -> None:
        try:
            await self.application.initialize()  # getMe: a wrong token stops start-up here
        except Exception as exc:
            # The Application does not count as initialized, so its shutdown would skip the Bot's
            # HTTP clients, already open: close them here.
            await self.application.bot.shutdown()
            if isinstance(exc, InvalidToken):
                raise ConfigError("telegram.token: Telegram refused the token; check ASCOLTO_TELEGRAM__TOKEN") from None
            raise
        await self.register_commands()
        if webhook is not None:
            await self.application.bot.set_webhook(
                webhook.url, secret_token=webhook.secret, allowed_updates=list(telegram.ALLOWED_UPDATES)
            )
            logger.info("telegram: webhook set on %s", webhook.path)

    async def stop(self) -> None:
        await self.application.shutdown()

    async def register_commands(self) -> None:
        """The command menu in Italian (the default) and English; best-effort, the bot works without it."""
        translator = self.core.translator
        for language in (None, "en"):
            commands = [
                BotCommand(english if language else italian, translator.format(description, language or "it"))
                for description, italian, english in COMMANDS
            ]
            try:
                await self.application.bot.set_my_commands(commands, language_code=language)
            except TelegramError as exc:
                logger.warning("telegram: command menu (%s) not set: %s", language or "default", type(exc).__name__)

    # --- one update -----------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Run the update through PTB's handlers; raises if it was not stored, so it is not confirmed."""
        try:
            await self.application.process_update(update)
        finally:
            error = self._failures.pop(id(update), None)
        if error is not None:
            raise error

    async def _on_update(self, update: Update, context: Context) -> None:
        event = telegram.read_update(update, received_at=self.core.pipeline.clock())
        query = update.callback_query
        if query is not None:
            await telegram.answer_button(query)
        if event is None:
            logger.debug("telegram update %s ignored", update.update_id)
            return
        if isinstance(event, telegram.GroupMessage):
            await self._invite_to_private(event)
            return
        if self._one_at_a_time is None:
            handled = await self.core.pipeline.handle(event)
        else:
            async with self._one_at_a_time:
                handled = await self.core.pipeline.handle(event)
        if query is not None and not handled.duplicate:
            await telegram.show_choice(query)

    async def _on_error(self, update: object, context: Context) -> None:
        if context.error is not None:
            self._failures[id(update)] = context.error

    async def _invite_to_private(self, group: telegram.GroupMessage) -> None:
        """Needs are personal: in a group we store nothing and point to the private chat."""
        bot = self.application.bot
        text = self.core.translator.format(
            Msg("telegram.group_invite", {"username": bot.username}), self.core.settings.app.language
        )
        try:
            await bot.send_message(group.chat_id, text)
        except TelegramError as exc:
            logger.info("telegram: group invitation not sent: %s", type(exc).__name__)

    # --- webhook --------------------------------------------------------------------

    def route(self, webhook: Webhook) -> Route:
        """POST <path>: secret first, then the update; 200 only once it is committed."""
        expected = webhook.secret.encode()

        async def receive(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, expected):
                logger.warning("telegram webhook: missing or wrong secret token, refused")
                return Response(status_code=403)
            try:
                update = Update.de_json(await request.json(), self.application.bot)
            except Exception as exc:  # any malformed body: Telegram itself never sends one
                logger.warning("telegram webhook: unreadable update (%s)", type(exc).__name__)
                return Response(status_code=400)
            try:
                await self.process(update)
            except Exception as exc:
                # Telegram redelivers what did not get a 2xx; the update_id makes that harmless.
                logger.error("telegram update %s not stored (%s), answering 503", update.update_id, type(exc).__name__)
                return Response(status_code=503)
            return Response(status_code=200)

        return Route(webhook.path, receive, methods=["POST"])


def build_application(settings: TelegramSettings, *, rate_limiter: BaseRateLimiter[Any] | None = None) -> TelegramApp:
    """PTB's Application without its Updater (we poll ourselves) and with the 30/s overall limiter.

    max_retries=0: a RetryAfter reaches the dispatcher, which owns retries and knows the outbox.
    """
    if settings.token is None:
        raise ConfigError("telegram.token: set ASCOLTO_TELEGRAM__TOKEN (the token @BotFather gave you)")
    # With max_retries=0 the limiter logs every RetryAfter it passes on as an ERROR with a traceback;
    # the dispatcher logs and reschedules the message itself, so that would be noise.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    application: TelegramApp = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
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
    intake = TelegramIntake(core, application)
    sender = telegram.TelegramSender(
        application.bot,
        per_chat_per_second=settings.per_chat_per_second,
        overall_per_second=settings.overall_per_second,
    )

    async def startup() -> None:
        await intake.start(webhook)

    if webhook is None:
        poller = Poller(application.bot, intake.process, poll)
        return Channel(name=telegram.CHANNEL, sender=sender, tasks=[poller.run], startup=startup, shutdown=intake.stop)
    return Channel(
        name=telegram.CHANNEL, sender=sender, routes=[intake.route(webhook)], startup=startup, shutdown=intake.stop
    )
