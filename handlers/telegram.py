"""The Telegram adapter: updates in as `Inbound`, replies out through PTB's `Bot`, PTB's errors as ours."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from aiolimiter import AsyncLimiter
from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from conversations import Channel, Inbound, Location, Media, MediaKind
from handlers.errors import Rejected, SendError, Throttled, Transient, Unreachable
from handlers.render import text_limit
from handlers.telegram_keyboard import keyboard_json, parse_callback, render_keyboard
from handlers.types import Outgoing

logger = logging.getLogger(__name__)

CHANNEL: Final[str] = Channel.TELEGRAM
MAX_TEXT: Final = text_limit(CHANNEL)
"""4096 characters a message (https://core.telegram.org/bots/api#sendmessage); the pipeline splits to it."""
CAPTION_LIMIT: Final = 1024
"""A photo or document caption (https://core.telegram.org/bots/api#sendphoto)."""
ALLOWED_UPDATES: Final = ("message", "callback_query")
"""All we ask Telegram for: edited messages never come, so an edit cannot answer a question twice."""
PRIVATE: Final = ChatType.PRIVATE
CHOICE_MARK: Final = "✓"
STALE_VERSION: Final = -1
"""Given to a button whose callback_data we cannot read (drawn by an older release): the engine
refuses it as stale instead of acting on the wrong question."""
PHOTO_CONTENT_TYPE: Final = "image/jpeg"
"""Telegram re-encodes every photo as JPEG (https://core.telegram.org/bots/api#photosize)."""
OVERALL_BURST: Final = 30
"""Telegram's overall limit: about 30 messages in any one second (bots FAQ)."""
MAX_IDLE_LIMITERS: Final = 512
"""Per-chat limiters kept before the idle ones are pruned (PTB's AIORateLimiter uses the same bound)."""


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """A message in a group: we invite the person to write in private and record nothing."""

    chat_id: int


def read_update(update: Update, *, received_at: datetime) -> Inbound | GroupMessage | None:
    """Translate one update; None for what we do not handle (edited messages, channel posts, ...).

    The update_id is the event id, so a redelivered update is dropped by the pipeline;
    the sender is the private chat's id, which is also where replies go.
    """
    query = update.callback_query
    message = update.message
    if query is not None:
        # query.message is None only for inline-mode messages, which we never send.
        chat = query.message.chat if query.message is not None else None
    else:
        chat = message.chat if message is not None else None
    if chat is None:
        return None
    if chat.type != PRIVATE:
        return GroupMessage(chat.id) if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) else None
    base = Inbound(CHANNEL, external_id=str(update.update_id), sender=str(chat.id), received_at=received_at)
    if query is not None:
        press = parse_callback(query.data)
        if press is None:
            return replace(base, choice=query.data or "?", conversation_version=STALE_VERSION)
        if press.payload is not None:
            return replace(base, choice=press.payload, conversation_version=press.version)
        # The payload did not fit in 64 bytes: the position is matched like a typed number.
        return replace(base, text=str(press.position), conversation_version=press.version)
    assert message is not None
    location = _location(message)
    media = _media(message)
    text = message.text or message.caption or None
    if text is None and location is None and not media:
        return replace(base, is_unsupported=True)
    # A reply to one of our messages: its id, as `sendMessage` returned it and the outbox stored it.
    replied = message.reply_to_message
    reply_to = str(replied.message_id) if replied is not None else None
    return replace(base, text=text, location=location, media=media, reply_to=reply_to)


def _location(message: Message) -> Location | None:
    # A venue carries its location too (https://core.telegram.org/bots/api#message).
    point = message.location
    return None if point is None else Location(point.latitude, point.longitude)


def _media(message: Message) -> tuple[Media, ...]:
    """The file we keep a reference to (file_id, never the bytes); the largest size of a photo."""
    if message.photo:
        largest = message.photo[-1]  # sizes come smallest first
        return (Media(MediaKind.PHOTO, largest.file_id, PHOTO_CONTENT_TYPE, largest.file_size),)
    if (document := message.document) is not None:
        return (Media(MediaKind.DOCUMENT, document.file_id, document.mime_type, document.file_size),)
    if (voice := message.voice) is not None:
        return (Media(MediaKind.VOICE, voice.file_id, voice.mime_type or "audio/ogg", voice.file_size),)
    if (audio := message.audio) is not None:  # a recording sent as a file: someone listens to it too
        return (Media(MediaKind.VOICE, audio.file_id, audio.mime_type, audio.file_size),)
    if (video := message.video) is not None:
        return (Media(MediaKind.VIDEO, video.file_id, video.mime_type, video.file_size),)
    if (note := message.video_note) is not None:
        return (Media(MediaKind.VIDEO, note.file_id, "video/mp4", note.file_size),)
    return ()


# --- buttons ------------------------------------------------------------------------------


def pressed_label(query: CallbackQuery) -> str | None:
    """The text of the button that was pressed, read from the message that carries it."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def marked_text(text: str, label: str) -> str | None:
    """The message text with the choice appended ("✓ Casa"), or None when it would not fit."""
    marked = f"{text}\n\n{CHOICE_MARK} {label}"
    return marked if len(marked) <= MAX_TEXT else None


async def answer_button(query: CallbackQuery) -> None:
    """Stop the button's spinner; best-effort (a redelivered query is "too old" to answer)."""
    try:
        await query.answer()
    except TelegramError as exc:
        logger.info("callback query not answered: %s", type(exc).__name__)


async def show_choice(query: CallbackQuery) -> None:
    """Take the keyboard off the message and show what was chosen; best-effort, never raises."""
    message = query.message
    if not isinstance(message, Message):
        return  # older than 48 hours: Telegram no longer lets us see or edit it
    label = pressed_label(query)
    marked = marked_text(message.text, label) if message.text and label else None
    try:
        if marked is None:
            await query.edit_message_reply_markup(reply_markup=None)
        else:
            # No parse_mode: our texts and the citizen's own words are never read as markup.
            await query.edit_message_text(marked)
    except TelegramError as exc:
        logger.info("message %s not edited after a button: %s", message.message_id, type(exc).__name__)


# --- sending ------------------------------------------------------------------------------


def as_send_error(exc: TelegramError) -> SendError:
    """PTB's exception to our vocabulary (handlers/errors.py); the class decides, never the text."""
    if isinstance(exc, RetryAfter):
        return Throttled(retry_after_seconds(exc), reason=exc.message)
    if isinstance(exc, Forbidden):  # blocked, or the account was deleted
        return Unreachable(exc.message)
    # In PTB 22 BadRequest is a NetworkError: it must be checked before the transient ones.
    if isinstance(exc, BadRequest):
        return Rejected(400, exc.message)
    if isinstance(exc, ChatMigrated):  # only groups migrate; we never write to groups through the outbox
        return Rejected(400, exc.message)
    # TimedOut, NetworkError (5xx, connection), InvalidToken, Conflict: not this message's fault.
    return Transient(f"{type(exc).__name__}: {exc.message}")


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait, exactly (https://core.telegram.org/bots/api#responseparameters)."""
    wait = exc.retry_after  # a timedelta with PTB_TIMEDELTA=true (bot/cli/main.py), else int seconds
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class WindowLimiter:
    """At most `limit` requests in any sliding window of `window` seconds, as the provider counts them.

    Telegram (and FakeTelegram's flood policy) count a message when it reaches them, somewhere
    between our request's start and its answer. So a request holds its place in the window from
    its start until `window` seconds after its answer: then no jitter on the way can put more than
    `limit` into one of their windows, and no safety margin on the rate is needed. The cost is the
    round trip: `limit` per (`window` + round trip). Unlike a bucket of one refilled evenly, a
    request that starts late (a busy event loop, a slow claim) does not waste its turn: the next
    ones catch up. Waiters go first come, first served.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._ended: list[float] = []  # a heap of answer times still inside the window
        self._open = 0
        self._freed = asyncio.Event()
        self._turn = asyncio.Lock()

    @classmethod
    def averaging(cls, per_second: float, *, burst: int = OVERALL_BURST) -> WindowLimiter:
        """At most `per_second` a second on average, and never more than max(burst, per_second) in one second."""
        limit = max(burst, math.ceil(per_second))
        return cls(limit, limit / per_second)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._turn:
            while True:
                now = self._clock()
                while self._ended and self._ended[0] <= now - self.window:
                    heapq.heappop(self._ended)
                if len(self._ended) + self._open < self.limit:
                    break
                self._freed.clear()
                wait = self._ended[0] + self.window - now if self._ended else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._freed.wait(), wait)
            self._open += 1
        try:
            yield
        finally:
            self._open -= 1
            heapq.heappush(self._ended, self._clock())
            self._freed.set()


class TelegramSender:
    """Sends outbox rows as plain-text messages with inline keyboards, at most N a second per chat.

    Telegram allows about one message a second in a private chat
    (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
    PTB's AIORateLimiter on `bot` keeps the 30/s overall limit but knows nothing of
    private chats, so each chat gets its own aiolimiter leaky bucket here: a burst
    waits its turn, nothing is dropped.
    """

    channel = CHANNEL

    def __init__(
        self, bot: Bot, *, per_chat_per_second: float = 1.0, overall_per_second: float | None = None
    ) -> None:
        if per_chat_per_second <= 0:
            raise ValueError("per_chat_per_second must be positive")
        self.bot = bot
        # PTB's AIORateLimiter is a bucket of 30 that refills 30/s: after a quiet moment it lets
        # ~60 out within one rolling second, which Telegram (and our fake) answer with 429.
        # A sliding window that counts each request until its answer never exceeds 30 in a second.
        self.overall = WindowLimiter.averaging(overall_per_second) if overall_per_second else None
        self.per_chat_per_second = per_chat_per_second
        self._limiters: dict[int, AsyncLimiter] = {}

    def limiter(self, chat_id: int) -> AsyncLimiter:
        """The chat's bucket, created on first use; idle buckets are pruned when there are many."""
        if len(self._limiters) > MAX_IDLE_LIMITERS:
            for key, idle in list(self._limiters.items()):
                if key != chat_id and idle.has_capacity(idle.max_rate):
                    del self._limiters[key]
        found = self._limiters.get(chat_id)
        if found is None:
            # Capacity 1: no bursts at all, one message every 1/rate seconds.
            found = self._limiters[chat_id] = AsyncLimiter(1, 1 / self.per_chat_per_second)
        return found

    async def send(self, message: Outgoing) -> str | None:
        try:
            chat_id = int(message.recipient)
        except ValueError:
            raise Rejected(400, "recipient is not a Telegram chat id") from None
        if message.attachment_path is not None:
            return await self._send_file(chat_id, message, render_keyboard(message.options, message.conversation_version))
        markup = keyboard_json(message.options, message.conversation_version)
        async with self.limiter(chat_id), self.overall.slot() if self.overall is not None else contextlib.nullcontext():
            try:
                # PTB's `send_message` builds a whole `Message` from the answer (~70 µs a reply, issue 18)
                # to give us its id. `_post` is the step every PTB method ends in: the same request, rate
                # limiter and errors; our Application sets no `Defaults` and no callback-data cache.
                sent = await self.bot._post("sendMessage", {"chat_id": chat_id, "text": message.text, "reply_markup": markup})
            except TelegramError as exc:
                raise as_send_error(exc) from exc
        return str(sent["message_id"])

    async def _send_file(self, chat_id: int, message: Outgoing, markup: InlineKeyboardMarkup | None) -> str | None:
        """A chart goes as a photo, anything else as a document; the text rides as the caption when it fits.

        A text longer than a caption goes first as its own message: if the file then
        fails, a retry repeats the text (the at-least-once window, docs/architecture.md).
        """
        assert message.attachment_path is not None
        path = Path(message.attachment_path)
        if not path.is_file():
            raise Rejected("file", "attachment file is missing")
        caption: str | None = message.text if len(message.text) <= CAPTION_LIMIT else None
        try:
            if caption is None:
                async with self.limiter(chat_id):
                    await self.bot.send_message(chat_id, message.text)
            async with self.limiter(chat_id):
                with path.open("rb") as data:
                    if (message.attachment_type or "").startswith("image/"):
                        sent = await self.bot.send_photo(chat_id, data, caption=caption, reply_markup=markup)
                    else:
                        sent = await self.bot.send_document(
                            chat_id, data, filename=path.name, caption=caption, reply_markup=markup
                        )
        except TelegramError as exc:
            raise as_send_error(exc) from exc
        return str(sent.message_id)
