"""A loopback fake of the Telegram Bot API that python-telegram-bot's real ``Bot`` talks to."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import html
import itertools
import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = [
    "ApiCall",
    "CallbackAnswer",
    "Edit",
    "FakeTelegram",
    "FloodPolicy",
    "ManualClock",
    "Sender",
    "SentMessage",
    "Stats",
    "Upload",
    "Webhook",
    "serve_loopback",
]

T = TypeVar("T")
JSON = dict[str, Any]

# Limits from https://core.telegram.org/bots/api#sendmessage and #inlinekeyboardbutton.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
# getFile refuses bigger files: https://core.telegram.org/bots/api#getfile
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

# Without (or with an empty) allowed_updates these are skipped:
# https://core.telegram.org/bots/api#getupdates
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")

BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup"
    " are exactly the same as a current content and reply markup of the message"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)
OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: OTHER_POLLER,
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code, like Telegram does."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            # PTB raises RetryAfter from parameters.retry_after, whatever the HTTP status.
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.status)


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


# ---------------------------------------------------------------------------------------------
# Records and configuration


class Sender(TypedDict, total=False):
    """Who writes, for the ``push_*`` helpers (defaults: the private chat's own user)."""

    user_id: int | None
    chat_type: str
    message_id: int | None


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made, with its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent: ``text`` as sent, ``plain_text`` as Telegram stores it."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    plain_text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    at: float
    caption: str | None = None
    file_id: str | None = None


@dataclass(frozen=True)
class Edit:
    """A successful editMessageText / editMessageReplyMarkup."""

    method: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    reply_markup: JSON | None
    at: float
    inline_message_id: str | None = None


@dataclass(frozen=True)
class CallbackAnswer:
    """A successful answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    at: float


@dataclass(frozen=True)
class Webhook:
    """What setWebhook stored."""

    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class FloodPolicy:
    """Flood limits; defaults follow Telegram's guidance (~1 message/s per chat, 30/s overall,
    20/min per group):
    https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this

    Per chat: a token bucket (``per_chat_capacity`` burst, ``per_chat_refill_per_second``).
    Overall: at most ``global_per_second`` sends in any sliding 1 s window.
    Groups (negative chat ids) also: at most ``group_per_minute`` sends in any sliding 60 s window.
    Only ``methods`` are limited: Telegram documents no limit for edits or callback answers.
    """

    enabled: bool = True
    per_chat_capacity: float = 3.0
    per_chat_refill_per_second: float = 1.0
    global_per_second: int = 30
    group_per_minute: int | None = 20
    methods: frozenset[str] = _SEND_METHODS


@dataclass
class Stats:
    """Counters tests assert on (e.g. ``fake.stats.flood_429 == 0``)."""

    requests: int = 0
    sends: int = 0
    flood_429: int = 0
    flood_429_by_chat: Counter[int] = field(default_factory=Counter)
    scripted_failures: int = 0
    updates_filtered: int = 0
    by_method: Counter[str] = field(default_factory=Counter)


class ManualClock:
    """A monotonic clock that only moves when told to, for fast deterministic flood tests."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class _Failure:
    method: str | None
    status: int
    remaining: int
    description: str
    retry_after: int | None
    chat_id: int | None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str | None = None
    file_name: str | None = None


class _FloodControl:
    """Per-chat token buckets plus sliding windows; answers how long a send must wait."""

    def __init__(self, policy: FloodPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # chat_id -> (tokens, updated_at)
        self._global: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}

    def acquire(self, chat_id: int) -> int | None:
        """Take one send for ``chat_id``: None if allowed, else whole seconds to wait."""
        policy, now = self.policy, self._clock()
        tokens, updated = self._buckets.get(chat_id, (policy.per_chat_capacity, now))
        refilled = tokens + (now - updated) * policy.per_chat_refill_per_second
        tokens = min(policy.per_chat_capacity, refilled)
        waits = [(1 - tokens) / policy.per_chat_refill_per_second if tokens < 1 else 0.0]
        waits.append(self._window_wait(self._global, policy.global_per_second, 1.0, now))
        group = self._groups.setdefault(chat_id, deque()) if chat_id < 0 else None
        if group is not None and policy.group_per_minute is not None:
            waits.append(self._window_wait(group, policy.group_per_minute, 60.0, now))
        if (wait := max(waits)) > 0:
            self._buckets[chat_id] = (tokens, now)
            # Telegram's retry_after is a whole number of seconds, never 0.
            return max(1, math.ceil(wait))
        self._buckets[chat_id] = (tokens - 1, now)
        self._global.append(now)
        if group is not None:
            group.append(now)
        return None

    @staticmethod
    def _window_wait(window: deque[float], limit: int, span: float, now: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        return window[0] + span - now if len(window) >= limit else 0.0


# ---------------------------------------------------------------------------------------------
# Loopback HTTP server


class _LoopbackServer(uvicorn.Server):
    """uvicorn in the caller's event loop: no signal handlers, and it stops as soon as asked."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn 0.54 has no install_signal_handlers switch; a test must not steal Ctrl+C.
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        # The stock loop polls should_exit every 100 ms; an event makes teardown immediate.
        await self.stop.wait()

    async def shutdown(self, sockets: Any = None) -> None:
        # The stock shutdown sleeps a fixed 100 ms and then polls every 100 ms: too slow for a
        # per-test fixture. Same steps, finer grained, bounded at 5 s.
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + 5.0
        while self.server_state.connections or self.server_state.tasks:
            if asyncio.get_running_loop().time() > deadline:
                for task in self.server_state.tasks:
                    task.cancel()
                break
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()


@contextlib.asynccontextmanager
async def serve_loopback(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1, ephemeral port; yields its root URL (no trailing slash)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", ws="none", log_config=None, access_log=False
    )
    server = _LoopbackServer(config)
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await task  # re-raise why uvicorn did not start
        raise RuntimeError("uvicorn stopped before listening")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.stop.set()
        await task


# ---------------------------------------------------------------------------------------------
# Request decoding


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string plus a JSON, urlencoded or multipart body: the Bot API accepts all of them."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not body:
        return params
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise _bad("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise _bad("JSON object expected")
        params.update(data)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        params.update(_parse_multipart(body, content_type))
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, str | Upload]:
    # python-multipart is not a dependency, so Starlette's request.form() is unavailable.
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str):
        raise _bad("multipart boundary is missing")
    fields: dict[str, str | Upload] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        part = email.message_from_bytes(head + b"\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = data.removesuffix(b"\r\n")
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode()
        else:
            fields[name] = Upload(filename, part.get_content_type(), data)
    return fields


def _json_param(params: Mapping[str, Any], name: str) -> Any:
    """Form bodies carry objects as JSON strings (PTB json.dumps them), JSON bodies as objects."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise _bad(f"can't parse {name} JSON object") from None


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _bool_param(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _str_param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Formatting: Telegram counts and stores the text *after* parsing entities


_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
     "tg-emoji", "code", "pre", "blockquote"}
)
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _plain_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram would store, with markup removed and surrounding whitespace trimmed.

    Only the errors bots hit most are reproduced: unsupported HTML tags and unescaped MarkdownV2
    reserved characters (https://core.telegram.org/bots/api#formatting-options).
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        text = _strip_html(text)
    elif mode == "markdownv2":
        text = _strip_markdown_v2(text)
    elif mode == "markdown":
        text = re.sub(r"(?<!\\)[*_`]", "", _MD_LINK.sub(r"\1", text)).replace("\\", "")
    # Telegram trims leading/trailing whitespace, so "  " is an empty message.
    return text.strip()


def _strip_html(text: str) -> str:
    for match in _HTML_TAG.finditer(text):
        if match[2].lower() not in _HTML_TAGS:
            kind = "end" if match[1] else "start"
            where = f"at byte offset {len(text[: match.start()].encode())}"
            raise _bad(f'can\'t parse entities: unsupported {kind} tag "{match[2]}" {where}')
    return html.unescape(_HTML_TAG.sub("", text))


def _strip_markdown_v2(text: str) -> str:
    out: list[str] = []
    i, in_code = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif text.startswith("```", i):
            i += 3
            language_end = text.find("\n", i)
            if not in_code and language_end != -1 and " " not in text[i:language_end]:
                i = language_end + 1
            in_code = not in_code
        elif char == "`":
            in_code, i = not in_code, i + 1
        elif in_code:
            out.append(char)
            i += 1
        elif char in "*_~|[":
            i += 1
        elif char == "]" and text.startswith("(", i + 1):
            close = text.find(")", i)
            i = len(text) if close == -1 else close + 1
        elif char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # block quotation
        elif char in _MDV2_RESERVED:
            raise _bad(
                f"can't parse entities: character '{char}' is reserved and must be escaped"
                " with the preceding '\\'"
            )
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _check_length(text: str, limit: int, description: str) -> None:
    # tdlib compares utf8_length(text) (Unicode code points, i.e. Python's len) after entity
    # parsing, not UTF-16 units: github.com/tdlib/td td/telegram/MessageContent.cpp
    # ("Message is too long"). Entity offsets are UTF-16, the length limit is not.
    if len(text) > limit:
        raise _bad(description)


def _check_reply_markup(markup: Any) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            # 1-64 *bytes*: https://core.telegram.org/bots/api#inlinekeyboardbutton
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
    return markup


def _echoed_markup(markup: JSON | None) -> JSON | None:
    # Message.reply_markup only ever carries inline keyboards; reply keyboards are not echoed.
    return markup if markup is not None and "inline_keyboard" in markup else None


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


# ---------------------------------------------------------------------------------------------
# The fake


class FakeTelegram:
    """The Bot API on 127.0.0.1: ``async with FakeTelegram() as fake:`` in the test's own loop."""

    def __init__(
        self,
        *,
        token: str = "123456789:AAFakeTokenForAscoltoTests",
        bot_username: str = "ascolto_test_bot",
        bot_first_name: str = "Ascolto",
        flood: FloodPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        first_update_id: int = 100,
        allow_http_webhook: bool = True,
    ) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.flood = flood or FloodPolicy()
        self.clock = clock
        self.allow_http_webhook = allow_http_webhook

        self.sent: list[SentMessage] = []
        self.edits: list[Edit] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.calls: list[str] = []
        self.requests: list[ApiCall] = []
        # (scope as sorted JSON, language_code) -> commands
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook: Webhook | None = None
        self.stats = Stats()
        self.allowed_updates: frozenset[str] | None = None  # None: everything but _OPT_IN_UPDATES

        self._root = ""
        self._closing = False
        self._changed = asyncio.Event()
        self._limiter = _FloodControl(self.flood, clock)
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(first_update_id)
        self._poll_generation = 0
        self._failures: list[_Failure] = []
        self._blocked: set[int] = set()
        self._chats: dict[int, JSON] = {}
        self._message_ids: Counter[int] = Counter()
        self._messages: dict[tuple[int, int], JSON] = {}
        self._callbacks: dict[str, bool] = {}  # callback_query_id -> answered
        self._callback_ids = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._http: httpx.AsyncClient | None = None
        handlers: list[Callable[[dict[str, Any]], Awaitable[Any]]] = [
            self.getMe, self.getUpdates, self.setWebhook, self.deleteWebhook,
            self.getWebhookInfo, self.setMyCommands, self.getMyCommands, self.deleteMyCommands,
            self.sendMessage, self.editMessageText, self.editMessageReplyMarkup,
            self.answerCallbackQuery, self.sendDocument, self.sendPhoto, self.getFile,
            self.sendChatAction, self.deleteMessage,
        ]  # fmt: skip
        # Telegram method names are case-insensitive.
        self._handlers = {h.__name__.lower(): (h.__name__, h) for h in handlers}

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
            ]
        )
        async with contextlib.AsyncExitStack() as stack:
            self._root = await stack.enter_async_context(serve_loopback(app))
            self._exit_stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Wake pending long polls first, otherwise uvicorn waits for them to time out.
        self._closing = True
        self._notify()
        if self._exit_stack is not None:
            await self._exit_stack.aclose()

    @property
    def base_url(self) -> str:
        """For ``Bot(base_url=...)``: PTB appends the token, then ``/<method>``."""
        return f"{self._root}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``Bot(base_file_url=...)``: PTB appends the token, then ``/<file_path>``."""
        return f"{self._root}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None,
        status: int,
        *,
        count: int = 1,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (None: any method; optionally only for
        ``chat_id``) with ``status``. A 429 without ``retry_after`` gets ``retry_after=1``."""
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
        self._failures.append(_Failure(method, status, count, description, retry_after, chat_id))

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: every send to ``chat_id`` is 403 until unblocked."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    # -- incoming updates --------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue a raw update (``update_id`` is assigned if missing); returns its update_id.

        Like Telegram, updates of types outside ``allowed_updates`` are never stored.
        """
        stored = dict(update)
        stored.setdefault("update_id", next(self._update_ids))
        kind = _update_type(stored)
        allowed = self.allowed_updates
        if (kind in _OPT_IN_UPDATES) if allowed is None else (kind not in allowed):
            self.stats.updates_filtered += 1
        else:
            self._updates.append(stored)
            self._notify()
        return int(stored["update_id"])

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        message_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:
        """A user writes ``text``; a leading ``/command`` gets its bot_command entity. `reply_to`: the id
        of a message in this chat they answer (Telegram's "Rispondi"), sent back whole as Telegram does."""
        content: JSON = {"text": text}
        if match := re.match(r"/[A-Za-z0-9_]+(@\w+)?", text):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        if reply_to is not None:
            content["reply_to_message"] = self._messages[(chat_id, reply_to)]
        return self._push_content(
            chat_id, content, user_id=user_id, chat_type=chat_type, message_id=message_id
        )

    def push_location(
        self, chat_id: int, latitude: float, longitude: float, **sender: Unpack[Sender]
    ) -> int:
        location = {"latitude": latitude, "longitude": longitude}
        return self._push_content(chat_id, {"location": location}, **sender)

    def push_photo(
        self, chat_id: int, data: bytes = b"\xff\xd8jpeg", *, caption: str | None = None,
        **sender: Unpack[Sender],
    ) -> int:  # fmt: skip
        photo = self._file_json(self._store_file("photos", data, "image/jpeg", None))
        content = {"photo": [photo | {"width": 320, "height": 240}], "caption": caption}
        return self._push_content(chat_id, content, **sender)

    def push_voice(
        self, chat_id: int, data: bytes = b"OggS", *, duration: int = 3, **sender: Unpack[Sender]
    ) -> int:
        voice = self._file_json(self._store_file("voice", data, "audio/ogg", None))
        content = {"voice": voice | {"duration": duration, "mime_type": "audio/ogg"}}
        return self._push_content(chat_id, content, **sender)

    def push_document(
        self, chat_id: int, data: bytes = b"%PDF-1.7", *, file_name: str = "documento.pdf",
        mime_type: str = "application/pdf", caption: str | None = None, **sender: Unpack[Sender],
    ) -> int:  # fmt: skip
        document = self._file_json(self._store_file("documents", data, mime_type, file_name))
        document |= {"file_name": file_name, "mime_type": mime_type}
        return self._push_content(chat_id, {"document": document, "caption": caption}, **sender)

    def push_sticker(self, chat_id: int, emoji: str = "👍", **sender: Unpack[Sender]) -> int:
        sticker = self._file_json(self._store_file("stickers", b"RIFF", "image/webp", None))
        sticker |= {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                    "is_video": False, "emoji": emoji}  # fmt: skip
        return self._push_content(chat_id, {"sticker": sticker}, **sender)

    def push_edited_message(
        self, chat_id: int, message_id: int, text: str, *, user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:  # fmt: skip
        """The user edits their earlier message ``message_id``."""
        return self._push_content(
            chat_id, {"text": text}, user_id=user_id, chat_type=chat_type, message_id=message_id,
            kind="edited_message",
        )  # fmt: skip

    def push_callback(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> tuple[int, str]:
        """The user taps an inline button; returns ``(update_id, callback_query_id)``."""
        query_id = f"{self.bot_id}{next(self._callback_ids):08d}"
        self._callbacks[query_id] = False
        message = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self.bot_user,
        }
        query = {
            "id": query_id,
            "from": self._user(user_id if user_id is not None else chat_id),
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query}), query_id

    async def deliver_webhook(
        self,
        update: int | Mapping[str, Any] | None = None,
        *,
        redeliver: bool = False,
        max_attempts: int = 5,
    ) -> int:
        """POST an update (an update_id, a raw dict, or None for the oldest pending) to the webhook.

        Sends ``X-Telegram-Bot-Api-Secret-Token`` when a secret is set. Returns the last HTTP
        status (0 if the connection failed). Telegram retries until 2xx: ``redeliver=True`` does
        the same, at most ``max_attempts`` times. A 2xx confirms (drops) the update.
        """
        webhook, stack = self.webhook, self._exit_stack
        if webhook is None or stack is None:
            raise RuntimeError("no webhook is set (or the fake is not running)")
        if self._http is None:
            # Created on first use: building an httpx client (its SSL context) costs ~50 ms.
            # Telegram keeps up to max_connections (default 40) connections to a webhook open;
            # httpx keeps only 20 alive by default, and reconnecting would be measured too.
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            self._http = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0, limits=limits))
        client = self._http
        if update is None:
            if not self._updates:
                raise RuntimeError("no pending update to deliver")
            update = self._updates[0]
        elif isinstance(update, int):
            update_id = update
            update = next((u for u in self._updates if u["update_id"] == update_id), None)
            if update is None:
                raise LookupError(f"update {update_id} is not pending")
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        status = 0
        for _ in range(max_attempts if redeliver else 1):
            try:
                response = await client.post(webhook.url, json=dict(update), headers=headers)
                status = response.status_code
            except httpx.HTTPError as error:
                status, message = 0, f"Connection failed: {error!r}"
            else:
                message = f"Wrong response from the webhook: {status} {response.reason_phrase}"
            if 200 <= status < 300:
                delivered = update.get("update_id")
                self._updates = [u for u in self._updates if u["update_id"] != delivered]
                break
            self._set_webhook_error(message)
        self._notify()
        return status

    async def deliver_pending_webhooks(self) -> list[int]:
        """Deliver every queued update once, oldest first; returns the HTTP statuses."""
        return [await self.deliver_webhook(update) for update in list(self._updates)]

    # -- inspecting --------------------------------------------------------------------------

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset (or delivered to the webhook)."""
        return list(self._updates)

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [message for message in self.sent if message.chat_id == chat_id]

    def commands_for(
        self, language_code: str = "", scope: Mapping[str, Any] | None = None
    ) -> list[JSON]:
        return self.commands.get((self._scope_key(scope), language_code), [])

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 15.0) -> T:
        """Wait until ``predicate()`` is truthy and return it.

        Re-checked right after every API call and push, and every 50 ms for state the fake
        does not see (e.g. the application's database).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while not (result := predicate()):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"still false after {timeout} s; calls so far: {self.calls}")
            await self._wait_changed(min(remaining, 0.05))
        return result

    # -- HTTP plumbing -----------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        entry = self._handlers.get(request.path_params["method"].lower())
        if entry is None:
            # Telegram answers 404 for unknown methods; PTB maps 404 to InvalidToken.
            return ApiError(404, "Not Found").response()
        name, handler = entry
        try:
            params = await _read_params(request)
            self.calls.append(name)
            self.requests.append(ApiCall(name, params, self.clock()))
            self.stats.requests += 1
            self.stats.by_method[name] += 1
            self._notify()  # a long poll answers late: waiters may be waiting for the call itself
            self._raise_scripted(name, params)
            result = await handler(params)
        except ApiError as error:
            return error.response()
        finally:
            self._notify()
        return JSONResponse({"ok": True, "result": result})

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        path = request.path_params["file_path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None:
            return ApiError(404, "Not Found").response()
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    def _raise_scripted(self, method: str, params: Mapping[str, Any]) -> None:
        try:
            chat_id: int | None = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            chat_id = None
        for failure in self._failures:
            if failure.method not in (None, method) or failure.chat_id not in (None, chat_id):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            self.stats.scripted_failures += 1
            raise ApiError(failure.status, failure.description, retry_after=failure.retry_after)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_changed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # -- state helpers -----------------------------------------------------------------------

    def _user(self, user_id: int) -> JSON:
        return {"id": user_id, "is_bot": False, "first_name": f"Utente {user_id}",
                "language_code": "it"}  # fmt: skip

    def _chat(self, chat_id: int) -> JSON:
        if chat_id not in self._chats:
            # Private chat ids are user ids; groups are negative, supergroups -100...
            kind = "private" if chat_id > 0 else "group"
            kind = "supergroup" if str(chat_id).startswith("-100") else kind
            self._chats[chat_id] = self._new_chat(chat_id, kind)
        return self._chats[chat_id]

    @staticmethod
    def _new_chat(chat_id: int, chat_type: str) -> JSON:
        if chat_type == "private":
            return {"id": chat_id, "type": chat_type, "first_name": f"Utente {chat_id}"}
        return {"id": chat_id, "type": chat_type, "title": f"Gruppo {chat_id}"}

    def _next_message_id(self, chat_id: int) -> int:
        # One counter per chat, shared by both directions, as in private chats.
        self._message_ids[chat_id] += 1
        return self._message_ids[chat_id]

    def _push_content(
        self,
        chat_id: int,
        content: JSON,
        *,
        kind: str = "message",
        user_id: int | None = None,
        chat_type: str = "private",
        message_id: int | None = None,
    ) -> int:
        if self._chats.get(chat_id, {}).get("type") != chat_type:
            self._chats[chat_id] = self._new_chat(chat_id, chat_type)
        if message_id is None:
            message_id = self._next_message_id(chat_id)
        else:
            self._message_ids[chat_id] = max(self._message_ids[chat_id], message_id)
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 1000
        message = {"message_id": message_id, "date": int(time.time()), "chat": self._chats[chat_id],
                   "from": self._user(user_id)}  # fmt: skip
        message.update({key: value for key, value in content.items() if value is not None})
        if kind == "edited_message":
            message["edit_date"] = int(time.time())
        self._messages[(chat_id, message_id)] = message
        return self.push_update({kind: message})

    def _store_file(
        self, folder: str, data: bytes, mime_type: str | None, file_name: str | None
    ) -> _StoredFile:
        number = next(self._file_ids)
        suffix = {"photos": ".jpg", "voice": ".oga", "stickers": ".webp"}.get(folder, "")
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        stored = _StoredFile(
            file_id=f"FAKE{folder.upper()}{number:06d}",
            file_unique_id=f"U{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            data=data,
            mime_type=mime_type,
            file_name=file_name,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _file_json(stored: _StoredFile) -> JSON:
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data)}  # fmt: skip

    def _set_webhook_error(self, message: str) -> None:
        if self.webhook is not None:
            self.webhook = Webhook(
                self.webhook.url, self.webhook.secret_token, self.webhook.allowed_updates,
                self.webhook.max_connections, int(time.time()), message,
            )  # fmt: skip

    @staticmethod
    def _scope_key(scope: Mapping[str, Any] | None) -> str:
        return json.dumps(dict(scope or {"type": "default"}), sort_keys=True)

    def _commands_key(self, params: Mapping[str, Any]) -> tuple[str, str]:
        scope = self._scope_key(_json_param(params, "scope"))
        return scope, _str_param(params, "language_code") or ""

    def _target_chat(self, params: Mapping[str, Any]) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad("chat_id is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None  # @channel usernames are not modelled

    def _before_send(self, method: str, chat_id: int) -> None:
        """After validation, like Telegram: blocked users first, then flood control."""
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)
        if self.flood.enabled and method in self.flood.methods:
            self._limiter.policy = self.flood
            if (retry_after := self._limiter.acquire(chat_id)) is not None:
                self.stats.flood_429 += 1
                self.stats.flood_429_by_chat[chat_id] += 1
                raise _too_many(retry_after)

    def _record_send(
        self, method: str, message: JSON, params: Mapping[str, Any], file_id: str | None = None
    ) -> JSON:
        self.stats.sends += 1
        self.sent.append(
            SentMessage(
                method=method,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=_str_param(params, "text"),
                plain_text=message.get("text"),
                parse_mode=_str_param(params, "parse_mode"),
                reply_markup=_json_param(params, "reply_markup"),
                at=self.clock(),
                caption=_str_param(params, "caption"),
                file_id=file_id,
            )
        )
        return message

    def _new_bot_message(self, chat_id: int, content: JSON) -> JSON:
        message_id = self._next_message_id(chat_id)
        message: JSON = {"message_id": message_id, "date": int(time.time()),
                         "chat": self._chat(chat_id), "from": self.bot_user}  # fmt: skip
        message.update({key: value for key, value in content.items() if value is not None})
        self._messages[(chat_id, message_id)] = message
        return message

    def _caption(self, params: Mapping[str, Any]) -> str | None:
        caption = _str_param(params, "caption")
        if caption is None:
            return None
        plain = _plain_text(caption, _str_param(params, "parse_mode"))
        _check_length(plain, MAX_CAPTION, "message caption is too long")
        return plain or None

    def _input_file(self, params: Mapping[str, Any], name: str, folder: str) -> _StoredFile:
        value = params.get(name)
        if isinstance(value, Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            return self._store_file(folder, value.data, value.content_type, value.filename)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # Telegram would download the URL; the fake keeps no content for it.
            return self._store_file(folder, b"", None, value.rsplit("/", 1)[-1] or None)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = params.get(value.removeprefix("attach://"))
            if isinstance(attached, Upload):
                return self._input_file({name: attached}, name, folder)
        raise _bad("wrong file identifier/HTTP URL specified")

    # -- Bot API methods (names are the API's, so dispatch can use __name__) --------------------

    async def getMe(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        return self.bot_user

    async def getUpdates(self, params: dict[str, Any]) -> list[JSON]:  # noqa: N802
        """Long polling per https://core.telegram.org/bots/api#getupdates."""
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        offset = _int_param(params, "offset") or 0
        limit = min(max(_int_param(params, "limit") or 100, 1), 100)
        timeout = float(params.get("timeout") or 0)
        if "allowed_updates" in params:
            self.allowed_updates = frozenset(_json_param(params, "allowed_updates") or ()) or None
        # An offset confirms every earlier update; a negative one keeps only the last -offset.
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._updates and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self._wait_changed(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, OTHER_POLLER)
        return self._updates[:limit]

    async def setWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        url = _str_param(params, "url") or ""
        if not url:
            self.webhook = None  # an empty url removes the webhook, as in Telegram
            return True
        http_ok = self.allow_http_webhook and url.startswith("http://")
        if not url.startswith("https://") and not http_ok:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _str_param(params, "secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = _json_param(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = frozenset(allowed) or None
        if _bool_param(params, "drop_pending_updates"):
            self._updates.clear()
        self.webhook = Webhook(url, secret, allowed, _int_param(params, "max_connections") or 40)
        self._poll_generation += 1  # a pending long poll is cut off
        return True

    async def deleteWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        self.webhook = None
        if _bool_param(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def getWebhookInfo(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        info: JSON = {"url": "", "has_custom_certificate": False,
                      "pending_update_count": len(self._updates)}  # fmt: skip
        if (webhook := self.webhook) is not None:
            info.update(url=webhook.url, max_connections=webhook.max_connections)
            if webhook.allowed_updates is not None:
                info["allowed_updates"] = webhook.allowed_updates
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info

    async def setMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        commands = _json_param(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    async def getMyCommands(self, params: dict[str, Any]) -> list[JSON]:  # noqa: N802
        return self.commands.get(self._commands_key(params), [])

    async def deleteMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        self.commands.pop(self._commands_key(params), None)
        return True

    async def sendMessage(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        chat_id = self._target_chat(params)
        plain = _plain_text(_str_param(params, "text") or "", _str_param(params, "parse_mode"))
        if not plain:
            raise _bad("message text is empty")
        _check_length(plain, MAX_TEXT, "message is too long")
        markup = _check_reply_markup(_json_param(params, "reply_markup"))
        self._before_send("sendMessage", chat_id)
        content = {"text": plain, "reply_markup": _echoed_markup(markup)}
        message = self._new_bot_message(chat_id, content)
        return self._record_send("sendMessage", message, params)

    async def sendDocument(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        return self._send_file("sendDocument", params, "document", "documents")

    async def sendPhoto(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        return self._send_file("sendPhoto", params, "photo", "photos")

    def _send_file(self, method: str, params: dict[str, Any], name: str, folder: str) -> JSON:
        chat_id = self._target_chat(params)
        caption = self._caption(params)
        markup = _check_reply_markup(_json_param(params, "reply_markup"))
        stored = self._input_file(params, name, folder)
        self._before_send(method, chat_id)
        file_json = self._file_json(stored)
        if name == "photo":
            media: Any = [{**file_json, "width": 320, "height": 240}]
        else:
            media = {**file_json, "file_name": stored.file_name, "mime_type": stored.mime_type}
        message = self._new_bot_message(
            chat_id, {name: media, "caption": caption, "reply_markup": _echoed_markup(markup)}
        )
        return self._record_send(method, message, params, stored.file_id)

    async def getFile(self, params: dict[str, Any]) -> JSON:  # noqa: N802
        stored = self._files.get(_str_param(params, "file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {**self._file_json(stored), "file_path": stored.file_path}

    def _editable(self, params: Mapping[str, Any]) -> JSON:
        chat_id, message_id = self._target_chat(params), _int_param(params, "message_id")
        message = self._messages.get((chat_id, message_id or 0))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return message

    def _apply_edit(
        self, method: str, params: Mapping[str, Any], message: JSON, changes: JSON
    ) -> JSON:
        if all(message.get(key) == value for key, value in changes.items()):
            raise _bad(NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        self.edits.append(
            Edit(method, message["chat"]["id"], message["message_id"], _str_param(params, "text"),
                 _json_param(params, "reply_markup"), self.clock())
        )  # fmt: skip
        return message

    async def editMessageText(self, params: dict[str, Any]) -> JSON | bool:  # noqa: N802
        plain = _plain_text(_str_param(params, "text") or "", _str_param(params, "parse_mode"))
        if not plain:
            raise _bad("message text is empty")
        _check_length(plain, MAX_TEXT, "message is too long")
        markup = _echoed_markup(_check_reply_markup(_json_param(params, "reply_markup")))
        if inline_id := _str_param(params, "inline_message_id"):
            text = _str_param(params, "text")
            edit = Edit("editMessageText", None, None, text, markup, self.clock(), inline_id)
            self.edits.append(edit)
            return True  # inline messages are edited blind: Telegram answers True
        message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        # Omitting reply_markup removes the inline keyboard, as Telegram does.
        changes = {"text": plain, "reply_markup": markup}
        return self._apply_edit("editMessageText", params, message, changes)

    async def editMessageReplyMarkup(self, params: dict[str, Any]) -> JSON | bool:  # noqa: N802
        markup = _echoed_markup(_check_reply_markup(_json_param(params, "reply_markup")))
        if inline_id := _str_param(params, "inline_message_id"):
            edit = Edit("editMessageReplyMarkup", None, None, None, markup, self.clock(), inline_id)
            self.edits.append(edit)
            return True
        message = self._editable(params)
        return self._apply_edit("editMessageReplyMarkup", params, message, {"reply_markup": markup})

    async def answerCallbackQuery(self, params: dict[str, Any]) -> bool:  # noqa: N802
        query_id = _str_param(params, "callback_query_id") or ""
        # Unknown and already answered ids get the same answer from Telegram.
        if self._callbacks.get(query_id, True):
            raise _bad(QUERY_TOO_OLD)
        self._callbacks[query_id] = True
        answer = CallbackAnswer(
            callback_query_id=query_id,
            text=_str_param(params, "text"),
            show_alert=_bool_param(params, "show_alert"),
            url=_str_param(params, "url"),
            cache_time=_int_param(params, "cache_time"),
            at=self.clock(),
        )
        self.callback_answers.append(answer)
        return True

    async def sendChatAction(self, params: dict[str, Any]) -> bool:  # noqa: N802
        chat_id = self._target_chat(params)
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)
        return True

    async def deleteMessage(self, params: dict[str, Any]) -> bool:  # noqa: N802
        key = (self._target_chat(params), _int_param(params, "message_id") or 0)
        if self._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
        return True
