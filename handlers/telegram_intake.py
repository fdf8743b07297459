"""Telegram updates in: PTB's Application hands each update to the sink, and the webhook route that feeds it.

Polling (bot/channels/telegram_polling.py) and the webhook both call `TelegramIntake.process`,
which returns only once the update is committed, so neither confirms an update that was lost.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeAlias

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, TypeHandler

from handlers import telegram
from handlers.body_limit import JSON, BodyLimit, LimitedBody
from handlers.types import InboundSink

logger = logging.getLogger(__name__)

# Any at the provider boundary: PTB's Application has six type parameters and we use none of them.
TelegramApp: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = CallbackContext[Any, Any, Any, Any]

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_LIMIT: Final = BodyLimit(max_bytes=1024 * 1024, media_types=JSON)
"""An update is JSON; a 4,096-character text with its entities is far below 1 MiB (`[web] max_json_bytes`)."""


class TelegramIntake:
    """Hands every update to the sink; `process` returns only once the update is committed.

    `invitation` gives the text sent to a group (from the bot's username). On SQLite, updates
    arriving together wait for its one write lock in arrival order in the store (`storage.db.Writers`).
    """

    def __init__(
        self,
        application: TelegramApp,
        sink: InboundSink,
        *,
        clock: Callable[[], datetime],
        invitation: Callable[[str], str],
    ) -> None:
        self.application = application
        self.sink = sink
        self.clock = clock
        self.invitation = invitation
        self._failures: dict[int, BaseException] = {}
        application.add_handler(TypeHandler(Update, self._on_update))
        # PTB hands a handler's exception to the error handlers, not to process_update's caller:
        # we keep it so the caller can refuse to confirm the update.
        application.add_error_handler(self._on_error)

    async def process(self, update: Update) -> None:
        """Run the update through PTB's handlers; raises if it was not stored, so it is not confirmed."""
        try:
            await self.application.process_update(update)
        finally:
            error = self._failures.pop(id(update), None)
        if error is not None:
            raise error

    async def _on_update(self, update: Update, context: Context) -> None:
        event = telegram.read_update(update, received_at=self.clock())
        query = update.callback_query
        if query is not None:
            await telegram.answer_button(query)
        if event is None:
            logger.debug("telegram update %s ignored", update.update_id)
            return
        if isinstance(event, telegram.GroupMessage):
            await self._invite_to_private(event)
            return
        handled = await self.sink.handle(event)
        if query is not None and not handled.duplicate and not handled.failed:
            await telegram.show_choice(query)

    async def _on_error(self, update: object, context: Context) -> None:
        if context.error is not None:
            self._failures[id(update)] = context.error

    async def _invite_to_private(self, group: telegram.GroupMessage) -> None:
        """Needs are personal: in a group we store nothing and point to the private chat."""
        bot = self.application.bot
        try:
            await bot.send_message(group.chat_id, self.invitation(bot.username))
        except TelegramError as exc:
            logger.info("telegram: group invitation not sent: %s", type(exc).__name__)

    def route(self, path: str, secret: str, *, limit: BodyLimit = WEBHOOK_LIMIT) -> Route:
        """POST <path>: a body within `limit` (413/415/408 before it is read), the secret, then the update;
        200 only once it is committed."""
        expected = secret.encode()

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

        return Route(path, receive, methods=["POST"], middleware=[Middleware(LimitedBody, limit=limit)])
