"""The Telegram adapter as tables: update in, Inbound out; scripted Bot API answers in, our error out."""

from __future__ import annotations

import asyncio
import time
import datetime as dtm
from pathlib import Path
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from conversations import Inbound, Location, Media, MediaKind
from handlers import Outgoing, Rejected, SendError, Throttled, Transient, Unreachable
from handlers.telegram import (
    CHOICE_MARK,
    STALE_VERSION,
    GroupMessage,
    TelegramSender,
    WindowLimiter,
    as_send_error,
    marked_text,
    read_update,
)
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy

NOW = dtm.datetime(2026, 11, 23, 9, 30, tzinfo=dtm.UTC)
CHAT = 4242


# --- small factories of raw updates, in the spirit of PTB's tests/auxil/build_messages.py -------


def _chat(chat_id: int, kind: str) -> dict[str, Any]:
    if kind == "private":
        return {"id": chat_id, "type": kind, "first_name": "Anna"}
    return {"id": chat_id, "type": kind, "title": "Condominio"}


def message(update_id: int = 7, *, chat_id: int = CHAT, chat_type: str = "private", kind: str = "message", **content: Any) -> Update:
    body = {"message_id": 1, "date": 1_790_000_000, "chat": _chat(chat_id, chat_type),
            "from": {"id": 99, "is_bot": False, "first_name": "Anna"}, **content}  # fmt: skip
    return Update.de_json({"update_id": update_id, kind: body}, None)


def button(data: str, update_id: int = 8, *, chat_id: int = CHAT, chat_type: str = "private") -> Update:
    shown = {"message_id": 5, "date": 1_790_000_000, "chat": _chat(chat_id, chat_type), "text": "Cosa vuoi fare?"}
    query = {"id": "q1", "from": {"id": chat_id, "is_bot": False, "first_name": "Anna"},
             "chat_instance": "1", "data": data, "message": shown}  # fmt: skip
    return Update.de_json({"update_id": update_id, "callback_query": query}, None)


def file(file_id: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size, **extra}


def inbound(update_id: int = 7, **fields: Any) -> Inbound:
    return Inbound("telegram", external_id=str(update_id), sender=str(CHAT), received_at=NOW, **fields)


READ_CASES = [
    pytest.param(message(text="ciao"), inbound(text="ciao"), id="text"),
    pytest.param(message(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
                 inbound(text="/start"), id="command"),  # fmt: skip
    pytest.param(button("v12|casa"), inbound(8, choice="casa", conversation_version=12), id="button"),
    pytest.param(button("v|claim:7"), inbound(8, choice="claim:7"), id="button-without-version"),
    pytest.param(button("v12#3"), inbound(8, text="3", conversation_version=12), id="button-by-position"),
    pytest.param(button("an-old-format"), inbound(8, choice="an-old-format", conversation_version=STALE_VERSION),
                 id="unreadable-button-is-stale"),  # fmt: skip
    pytest.param(message(location={"latitude": 44.41, "longitude": 12.2}),
                 inbound(location=Location(44.41, 12.2)), id="location"),  # fmt: skip
    pytest.param(message(location={"latitude": 44.4, "longitude": 12.1},
                         venue={"location": {"latitude": 44.4, "longitude": 12.1}, "title": "Farmacia",
                                "address": "Via Roma 1"}),
                 inbound(location=Location(44.4, 12.1)), id="venue"),  # fmt: skip
    pytest.param(message(photo=[file("small", 900, width=90, height=67), file("big", 80_000, width=1280, height=960)]),
                 inbound(media=(Media(MediaKind.PHOTO, "big", "image/jpeg", 80_000),)), id="photo-largest-size"),  # fmt: skip
    pytest.param(message(photo=[file("p", 10, width=9, height=9)], caption="la ricetta"),
                 inbound(text="la ricetta", media=(Media(MediaKind.PHOTO, "p", "image/jpeg", 10),)),
                 id="photo-with-caption"),  # fmt: skip
    pytest.param(message(document=file("d", 5000, file_name="isee.pdf", mime_type="application/pdf")),
                 inbound(media=(Media(MediaKind.DOCUMENT, "d", "application/pdf", 5000),)), id="document"),  # fmt: skip
    pytest.param(message(voice=file("v", 3000, duration=4, mime_type="audio/ogg")),
                 inbound(media=(Media(MediaKind.VOICE, "v", "audio/ogg", 3000),)), id="voice"),  # fmt: skip
    pytest.param(message(audio=file("a", 9000, duration=40, mime_type="audio/mpeg")),
                 inbound(media=(Media(MediaKind.VOICE, "a", "audio/mpeg", 9000),)), id="audio-file"),  # fmt: skip
    pytest.param(message(video=file("vid", 9000, width=1, height=1, duration=3, mime_type="video/mp4")),
                 inbound(media=(Media(MediaKind.VIDEO, "vid", "video/mp4", 9000),)), id="video"),  # fmt: skip
    pytest.param(message(sticker=file("s", 100, type="regular", width=512, height=512, is_animated=False,
                                      is_video=False)),
                 inbound(is_unsupported=True), id="sticker"),  # fmt: skip
    pytest.param(message(contact={"phone_number": "+390000000000", "first_name": "Mario"}),
                 inbound(is_unsupported=True), id="contact"),  # fmt: skip
    pytest.param(message(dice={"emoji": "🎲", "value": 3}), inbound(is_unsupported=True), id="dice"),
    pytest.param(message(text="corretto", kind="edited_message", edit_date=1_790_000_100), None, id="edited-message"),
    pytest.param(message(text="post", kind="channel_post", chat_id=-100123, chat_type="channel"), None, id="channel-post"),
    pytest.param(message(text="/start", chat_id=-42, chat_type="group"), GroupMessage(-42), id="group"),
    pytest.param(message(text="ciao", chat_id=-1001, chat_type="supergroup"), GroupMessage(-1001), id="supergroup"),
    pytest.param(button("v1|si", chat_id=-42, chat_type="group"), GroupMessage(-42), id="button-in-a-group"),
]


@pytest.mark.parametrize(("update", "expected"), READ_CASES)
def test_read_update(update: Update, expected: Inbound | GroupMessage | None) -> None:
    assert read_update(update, received_at=NOW) == expected


def test_the_sender_is_the_private_chat_and_the_event_id_the_update_id() -> None:
    event = read_update(message(31337, chat_id=555, text="ciao"), received_at=NOW)
    assert isinstance(event, Inbound)
    assert (event.channel, event.external_id, event.sender) == ("telegram", "31337", "555")


def test_the_choice_is_appended_when_it_fits() -> None:
    assert marked_text("Di cosa hai bisogno?", "Casa") == f"Di cosa hai bisogno?\n\n{CHOICE_MARK} Casa"
    assert marked_text("x" * 4090, "Casa") is None


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected", "retryable"),
    [
        pytest.param(RetryAfter(dtm.timedelta(seconds=3)), Throttled, True, id="429"),
        pytest.param(Forbidden("Forbidden: bot was blocked by the user"), Unreachable, False, id="403-blocked"),
        pytest.param(BadRequest("Message is too long"), Rejected, False, id="400-before-network-error"),
        pytest.param(ChatMigrated(-1001), Rejected, False, id="chat-migrated"),
        pytest.param(TimedOut(), Transient, True, id="timed-out"),
        pytest.param(NetworkError("Internal Server Error"), Transient, True, id="5xx"),
        pytest.param(InvalidToken(), Transient, True, id="401-token"),
        pytest.param(Conflict("terminated by other getUpdates request"), Transient, True, id="409"),
    ],
)
def test_ptb_errors_map_to_our_vocabulary(error: TelegramError, expected: type[SendError], retryable: bool) -> None:
    mapped = as_send_error(error)
    assert type(mapped) is expected and mapped.retryable is retryable
    if isinstance(mapped, Throttled):
        assert mapped.retry_after == 3.0


# --- sending through the real Bot against the fake ------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood=FloodPolicy(per_chat_capacity=3, per_chat_refill_per_second=100)) as running:
        yield running


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[TelegramSender]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield TelegramSender(bot, per_chat_per_second=50)


def outgoing(text: str = "Cosa vuoi fare?", **fields: Any) -> Outgoing:
    return Outgoing(outbox_id=1, recipient=str(CHAT), text=text, **fields)


async def test_a_reply_is_sent_as_plain_text_with_its_keyboard(fake: FakeTelegram, sender: TelegramSender) -> None:
    user_text = "Ho scritto *a_b* <b>e</b> [link](x)"  # never interpreted as markup
    provider_id = await sender.send(
        outgoing(user_text, options=(("nuovo", "Segnalare"), ("miei", "Le mie")), conversation_version=4)
    )
    [sent] = fake.messages_to(CHAT)
    assert provider_id == str(sent.message_id)
    assert sent.parse_mode is None and sent.plain_text == user_text
    assert sent.reply_markup == {"inline_keyboard": [[{"text": "Segnalare", "callback_data": "v4|nuovo"}],
                                                     [{"text": "Le mie", "callback_data": "v4|miei"}]]}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "retry_after", "expected", "reason"),
    [
        pytest.param(429, 3, Throttled, "Flood control exceeded. Retry in 0:00:03", id="429"),
        pytest.param(403, None, Unreachable, "Forbidden: bot was blocked by the user", id="403"),
        pytest.param(500, None, Transient, "NetworkError: Internal Server Error", id="500"),
        pytest.param(502, None, Transient, "NetworkError: Bad Gateway", id="502"),
        pytest.param(400, None, Rejected, "Bad Request", id="400"),
    ],
)
async def test_scripted_answers_raise_our_errors(
    fake: FakeTelegram, sender: TelegramSender, status: int, retry_after: int | None, expected: type[SendError], reason: str
) -> None:
    fake.fail_next("sendMessage", status, retry_after=retry_after)
    with pytest.raises(expected) as raised:
        await sender.send(outgoing())
    assert raised.value.reason == reason
    if isinstance(raised.value, Throttled):
        assert raised.value.retry_after == 3.0
    await sender.send(outgoing())  # the next one goes through
    assert len(fake.messages_to(CHAT)) == 1


async def test_a_recipient_that_is_not_a_chat_id_is_rejected(sender: TelegramSender) -> None:
    with pytest.raises(Rejected):
        await sender.send(Outgoing(outbox_id=1, recipient="mario", text="ciao"))


async def test_one_chat_is_paced_and_chats_do_not_wait_for_each_other(fake: FakeTelegram) -> None:
    # The fake allows bursts of 2, then 10 a second: our 8 a second never meets a 429.
    fake.flood = FloodPolicy(per_chat_capacity=2, per_chat_refill_per_second=10)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        sender = TelegramSender(bot, per_chat_per_second=8)
        for n in range(6):
            await sender.send(outgoing(f"messaggio {n}"))
            await sender.send(Outgoing(outbox_id=n, recipient=str(CHAT + n + 1), text="altra chat"))
    assert len(fake.sent) == 12
    assert fake.stats.flood_429 == 0
    gaps = [b.at - a.at for a, b in zip(fake.messages_to(CHAT), fake.messages_to(CHAT)[1:])]
    assert sum(gaps) / len(gaps) > 0.1  # 1/8 s apart at the limiter; unpaced they would be ~5 ms


async def test_idle_chat_limiters_are_pruned() -> None:
    sender = TelegramSender(Bot("1:x"), per_chat_per_second=1)
    for chat in range(600):
        sender.limiter(chat)
    assert len(sender._limiters) <= 513  # the ones never used are idle and go


async def test_an_attachment_goes_as_a_photo_with_its_caption(
    fake: FakeTelegram, sender: TelegramSender, tmp_path: Path
) -> None:
    chart = tmp_path / "digest.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    await sender.send(outgoing("Il riepilogo della settimana", attachment_path=str(chart), attachment_type="image/png"))
    [sent] = fake.messages_to(CHAT)
    assert sent.method == "sendPhoto" and sent.caption == "Il riepilogo della settimana"


async def test_a_long_text_with_a_document_goes_first_then_the_file(
    fake: FakeTelegram, sender: TelegramSender, tmp_path: Path
) -> None:
    export = tmp_path / "richieste.csv"
    export.write_text("ticket,categoria\nK7M-R4P,spesa\n")
    await sender.send(outgoing("x" * 2000, attachment_path=str(export), attachment_type="text/csv"))
    methods = [m.method for m in fake.messages_to(CHAT)]
    assert methods == ["sendMessage", "sendDocument"]


async def test_a_missing_attachment_is_rejected_not_retried(sender: TelegramSender, tmp_path: Path) -> None:
    with pytest.raises(Rejected):
        await sender.send(outgoing("x", attachment_path=str(tmp_path / "gone.png"), attachment_type="image/png"))


@pytest.mark.parametrize(("overall", "expect_429"), [(45.0, False), (None, True)], ids=["paced", "unpaced"])
async def test_an_even_overall_pace_keeps_a_burst_to_many_chats_under_the_bot_limit(
    overall: float | None, expect_429: bool
) -> None:
    policy = FloodPolicy(global_per_second=50, per_chat_capacity=3, per_chat_refill_per_second=1)
    async with FakeTelegram(flood=policy) as fake, Bot(fake.token, base_url=fake.base_url) as bot:
        sender = TelegramSender(bot, per_chat_per_second=1, overall_per_second=overall)

        async def one(chat: int) -> None:
            try:
                await sender.send(Outgoing(outbox_id=chat, recipient=str(chat), text="annuncio"))
            except Throttled:
                pass

        await asyncio.gather(*(one(5000 + n) for n in range(90)))
        assert (fake.stats.flood_429 > 0) is expect_429


async def test_the_overall_window_counts_each_send_until_its_answer_plus_the_window() -> None:
    """A send counts from its start until `window` after its answer, whatever the round trip; FIFO."""
    limiter = WindowLimiter(3, 0.2)
    spans: dict[int, tuple[float, float]] = {}

    async def send(n: int, round_trip: float) -> None:
        async with limiter.slot():
            started = time.monotonic()
            await asyncio.sleep(round_trip)
            spans[n] = (started, time.monotonic())

    await asyncio.gather(*(send(n, 0.05 if n % 2 else 0.0) for n in range(9)))
    starts = sorted(spans, key=lambda n: spans[n][0])
    assert starts == list(range(9)), "first come, first served"
    for n, (started, _) in spans.items():
        # Telegram counts a send somewhere between its start and its answer: when send n starts,
        # at most 2 earlier ones may have answered less than a window ago (or not at all yet).
        recent = [m for m, (start, end) in spans.items() if start < started and end > started - 0.2]
        assert len(recent) <= 2, f"send {n} started with {recent} still inside the window"
    assert spans[8][0] - spans[0][0] >= 0.4, "9 sends, 3 a window: at least two windows"


def test_averaging_keeps_telegrams_burst_and_stretches_the_window() -> None:
    assert (WindowLimiter.averaging(30).limit, WindowLimiter.averaging(30).window) == (30, 1.0)
    assert WindowLimiter.averaging(20).window == pytest.approx(1.5)  # 30 in 1.5 s: 20/s, never 31 in a second
    assert WindowLimiter.averaging(1000).limit == 1000
