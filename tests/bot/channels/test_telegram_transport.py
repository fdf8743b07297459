"""The Bot API over aiohttp (bot/channels/telegram_transport.py): a real PTB `Bot` on the transport,
against the loopback fake and against servers that refuse, never answer or never read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pydantic import SecretStr
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram import build_application
from bot.channels.telegram_transport import AiohttpRequest
from bot.config import TelegramSettings
from handlers.telegram import retry_after_seconds
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy
from tests.helpers.net import free_port

TOKEN = "123456:transport-test-token"
CHAT = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood=FloodPolicy(enabled=False)) as running:
        running.push_message(CHAT, "ciao")  # the chat exists: Telegram refuses to write first
        yield running


@contextlib.asynccontextmanager
async def bot_on(base_url: str, request: AiohttpRequest, *, token: str = TOKEN, base_file_url: str | None = None) -> AsyncIterator[Bot]:
    bot = Bot(token, base_url=base_url, base_file_url=base_file_url or base_url, request=request)
    try:
        yield bot
    finally:
        await request.shutdown()


@contextlib.asynccontextmanager
async def server(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> AsyncIterator[str]:
    """A loopback TCP server that treats each connection with `handle`; yields a Bot API base URL."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handle(reader, writer)

    listening = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        for writer in writers:
            writer.close()
        listening.close()
        await listening.wait_closed()


async def never_answers(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read(65536)  # the request arrives; no answer ever goes back
        await asyncio.sleep(3600)


async def never_reads(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)  # the request's bytes pile up until the socket's buffers are full


@contextlib.asynccontextmanager
async def forward_proxy(seen: list[str]) -> AsyncIterator[str]:
    """An HTTP proxy that answers every request itself, as Telegram would answer a sendMessage; yields its URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
        await reader.readexactly(length)
        body = json.dumps({"ok": True, "result": {"message_id": 7, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": "ciao"}}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async with server(answer) as base_url:
        yield base_url.removesuffix("/bot")


def without_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def test_the_environments_proxy_carries_the_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    without_proxies(monkeypatch)
    async with forward_proxy(seen) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        # A host no resolver knows: only the proxy can reach it.
        async with bot_on("http://api.telegram.invalid/bot", AiohttpRequest()) as bot:
            sent = await bot.send_message(CHAT, "ciao")
            await bot.send_message(CHAT, "ancora")
    assert sent.message_id == 7
    assert [line.split()[:2] for line in seen] == [["POST", f"http://api.telegram.invalid/bot{TOKEN}/sendMessage"]] * 2


async def test_no_proxy_sends_straight_to_the_host(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # no proxy there: using it would fail the send
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with bot_on(fake.base_url, AiohttpRequest(), token=fake.token) as bot:
        await bot.send_message(CHAT, "ciao")
    assert [m.text for m in fake.messages_to(CHAT)] == ["ciao"]


def test_the_application_sends_the_bots_calls_over_aiohttp() -> None:
    application = build_application(TelegramSettings(token=SecretStr(TOKEN)))
    assert isinstance(application.bot.request, AiohttpRequest)


async def test_a_message_with_a_keyboard_goes_through_and_comes_back_as_a_message(fake: FakeTelegram) -> None:
    async with bot_on(fake.base_url, AiohttpRequest(), token=fake.token) as bot:
        await bot.initialize()
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Sì, va bene", callback_data="v1:si")]])
        sent = await bot.send_message(CHAT, "Posso tenere questi dati? È una domanda con l'accento.", reply_markup=keyboard)
    [recorded] = fake.messages_to(CHAT)
    assert sent.message_id == recorded.message_id
    assert recorded.text == "Posso tenere questi dati? È una domanda con l'accento."
    assert recorded.reply_markup == {"inline_keyboard": [[{"text": "Sì, va bene", "callback_data": "v1:si"}]]}


async def test_a_photo_goes_up_as_multipart_and_comes_back_byte_for_byte(fake: FakeTelegram) -> None:
    chart = bytes(range(256)) * 64  # not text: a form field would mangle it
    async with bot_on(fake.base_url, AiohttpRequest(), token=fake.token, base_file_url=fake.base_file_url) as bot:
        sent = await bot.send_photo(CHAT, chart, caption="La domanda della settimana")
        assert sent.photo and sent.caption == "La domanda della settimana"
        downloaded = await (await bot.get_file(sent.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == chart


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        pytest.param(429, RetryAfter, id="429"),
        pytest.param(403, Forbidden, id="403"),
        pytest.param(400, BadRequest, id="400"),
        pytest.param(502, NetworkError, id="502"),
    ],
)
async def test_telegrams_refusals_reach_ptb_as_its_errors(fake: FakeTelegram, status: int, raised: type[Exception]) -> None:
    fake.fail_next("sendMessage", status, retry_after=7 if status == 429 else None)
    async with bot_on(fake.base_url, AiohttpRequest(), token=fake.token) as bot:
        with pytest.raises(raised) as caught:
            await bot.send_message(CHAT, "ciao")
    if isinstance(caught.value, RetryAfter):
        assert retry_after_seconds(caught.value) == 7.0


async def test_a_refused_connection_is_a_network_error_that_does_not_name_the_token() -> None:
    async with bot_on(f"http://127.0.0.1:{free_port()}/bot", AiohttpRequest(connect_timeout=2)) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(CHAT, "ciao")
    assert not isinstance(caught.value, TimedOut)
    assert TOKEN not in str(caught.value) and "transport-test-token" not in repr(caught.value)


async def test_an_answer_that_never_comes_times_out_at_the_read_timeout() -> None:
    async with server(never_answers) as base_url, bot_on(base_url, AiohttpRequest(read_timeout=0.3)) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "ciao")
    assert 0.25 <= time.monotonic() - started < 3


async def test_an_upload_the_server_never_reads_times_out_instead_of_hanging() -> None:
    # aiohttp has no write timeout of its own: the call's total (pool + connect + write + read) bounds it.
    request = AiohttpRequest(read_timeout=0.2, write_timeout=0.2, media_write_timeout=0.2, connect_timeout=0.2, pool_timeout=0.2)
    async with server(never_reads) as base_url, bot_on(base_url, request) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            # wait_for: without the bound this would hang; it fails here instead, as a TimeoutError, not TimedOut.
            await asyncio.wait_for(bot.send_document(CHAT, b"\0" * (32 * 1024 * 1024), filename="export.csv"), 10)
    assert time.monotonic() - started < 5


async def test_a_full_pool_times_out_at_the_pool_timeout_without_sending() -> None:
    request = AiohttpRequest(connection_pool_size=1, read_timeout=5, pool_timeout=0.2, connect_timeout=0.2)
    async with server(never_answers) as base_url, bot_on(base_url, request) as bot:
        holding = asyncio.create_task(bot.send_message(CHAT, "uno"))  # takes the one connection, and keeps it
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "due")
        assert time.monotonic() - started < 2
        holding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holding


async def test_it_opens_itself_when_called_first_and_again_after_a_shutdown(fake: FakeTelegram) -> None:
    request = AiohttpRequest()
    async with bot_on(fake.base_url, request, token=fake.token) as bot:
        await bot.send_message(CHAT, "prima di initialize")  # PTB's httpx request allows this too
        await request.shutdown()
        await request.initialize()
        await bot.send_message(CHAT, "dopo")
    assert [m.text for m in fake.messages_to(CHAT)] == ["prima di initialize", "dopo"]
