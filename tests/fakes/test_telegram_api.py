"""Drive python-telegram-bot's real ``telegram.Bot`` against the loopback FakeTelegram."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram_api import FakeTelegram, FloodPolicy, ManualClock, serve_loopback

CHAT = 4242


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(manual_clock: ManualClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(clock=manual_clock) as running:
        yield running


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
    ) as real_bot:
        yield real_bot


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (PTBDeprecationWarning, an error here) whenever RetryAfter.retry_after is
    # read, even inside RetryAfter.__init__, unless this opt-in makes it a timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def keyboard(*data: str) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"Scelta {d}", callback_data=d)] for d in data]
    return InlineKeyboardMarkup(rows)


async def test_get_me_identifies_the_fake_bot(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (fake.bot_id, "ascolto_test_bot", True)
    assert fake.calls == ["getMe", "getMe"]  # the first one is Bot.initialize()


async def test_send_message_round_trips_an_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    markup = keyboard("spesa", "casa")
    first = await bot.send_message(CHAT, "Di cosa hai bisogno?", reply_markup=markup)
    second = await bot.send_message(CHAT, "Seconda")
    other = await bot.send_message(77, "Altra chat")

    assert first.reply_markup == markup
    assert first.from_user is not None and first.from_user.id == fake.bot_id
    assert (first.chat.id, first.chat.type, first.text) == (CHAT, "private", "Di cosa hai bisogno?")
    assert isinstance(first.date, dtm.datetime)
    assert [first.message_id, second.message_id, other.message_id] == [1, 2, 1]
    assert [m.text for m in fake.messages_to(CHAT)] == ["Di cosa hai bisogno?", "Seconda"]
    assert fake.sent[0].reply_markup == markup.to_dict()
    assert fake.stats.sends == 3


async def test_text_limits_count_code_points_after_parsing(fake: FakeTelegram, bot: Bot) -> None:
    fake.flood.enabled = False
    await bot.send_message(CHAT, "😀" * 4096)  # 8192 UTF-16 units, still 4096 characters
    await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="^Message is too long$"):
        await bot.send_message(CHAT, "a" * 4097)
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await bot.send_message(CHAT, "  \n")
    with pytest.raises(BadRequest, match="character '.' is reserved"):
        await bot.send_message(CHAT, "Ciao.", parse_mode=ParseMode.MARKDOWN_V2)
    styled = await bot.send_message(CHAT, "<b>Ciao</b> &amp; grazie", parse_mode=ParseMode.HTML)
    assert styled.text == "Ciao & grazie"
    assert fake.sent[-1].text == "<b>Ciao</b> &amp; grazie"
    assert fake.sent[-1].plain_text == "Ciao & grazie"
    with pytest.raises(BadRequest, match="^Message caption is too long$"):
        await bot.send_document(CHAT, b"x", filename="a.txt", caption="c" * 1025)


async def test_callback_data_is_limited_to_64_bytes(bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("x" * 64))
    # PTB strips "Bad Request: " and capitalize()s the rest, lower-casing the error constant.
    with pytest.raises(BadRequest, match="^Button_data_invalid$"):
        await bot.send_message(CHAT, "troppo", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match="^Button_data_invalid$"):
        await bot.send_message(CHAT, "multibyte", reply_markup=keyboard("è" * 33))  # 66 bytes


async def test_blocked_chat_is_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.block_chat(CHAT)
    with pytest.raises(Forbidden, match="^Forbidden: bot was blocked by the user$"):
        await bot.send_message(CHAT, "Ciao")
    await bot.send_message(CHAT + 1, "Altri utenti ricevono ancora")
    assert fake.messages_to(CHAT) == []


@pytest.mark.usefixtures("timedelta_periods")
async def test_scripted_failures(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(CHAT, "Ciao")
    assert flood.value.retry_after == dtm.timedelta(seconds=3)

    fake.fail_next("sendMessage", 500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="^Internal Server Error$"):
            await bot.send_message(CHAT, "Ciao")
    fake.fail_next(None, 502, chat_id=CHAT + 1)
    await bot.send_message(CHAT, "altra chat: nessun errore")
    with pytest.raises(NetworkError, match="^Bad Gateway$"):
        await bot.send_message(CHAT + 1, "Ciao")
    await bot.send_message(CHAT + 1, "Ciao")
    assert fake.stats.scripted_failures == 4
    assert fake.stats.flood_429 == 0


async def test_retry_after_without_the_opt_in_warns(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests/conftest.py opts in for the whole run (as bot/cli/main.py does); PTB reads it at each access.
    monkeypatch.delenv("PTB_TIMEDELTA")
    fake.fail_next("sendMessage", 429, retry_after=2)
    with (
        pytest.warns(PTBDeprecationWarning, match="retry_after"),
        pytest.raises(RetryAfter) as flood,
    ):
        await bot.send_message(CHAT, "Ciao")
    assert str(flood.value) == "Flood control exceeded. Retry in 2 seconds"


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_control_is_a_real_limiter(
    fake: FakeTelegram, bot: Bot, manual_clock: ManualClock
) -> None:
    outcomes = []
    for n in range(10):
        try:
            await bot.send_message(CHAT, f"raffica {n}")
            outcomes.append("ok")
        except RetryAfter as flood:
            assert flood.retry_after == dtm.timedelta(seconds=1)
            outcomes.append("429")
    assert outcomes == ["ok"] * 3 + ["429"] * 7  # burst capacity 3, then 1 per second
    assert fake.stats.flood_429 == fake.stats.flood_429_by_chat[CHAT] == 7

    for n in range(10):
        manual_clock.advance(1.0)
        await bot.send_message(CHAT + 1, f"al ritmo giusto {n}")
    assert fake.stats.flood_429_by_chat[CHAT + 1] == 0

    manual_clock.advance(1.0)
    for chat_id in range(1, 31):  # 30 different chats in the same instant: the overall cap
        await bot.send_message(chat_id, "notifica")
    with pytest.raises(RetryAfter):
        await bot.send_message(31, "una di troppo")
    assert fake.stats.flood_429 == 8


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_policy_is_configurable(manual_clock: ManualClock) -> None:
    policy = FloodPolicy(per_chat_capacity=1, per_chat_refill_per_second=0.25)
    async with FakeTelegram(flood=policy, clock=manual_clock) as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(CHAT, "uno")
            manual_clock.advance(0.5)
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(CHAT, "due")
            assert flood.value.retry_after == dtm.timedelta(seconds=4)  # ceil(3.5)
            manual_clock.advance(3.5)
            await bot.send_message(CHAT, "tre")


async def test_get_updates_offset_semantics(fake: FakeTelegram, bot: Bot) -> None:
    ids = [fake.push_message(CHAT, f"messaggio {n}") for n in range(3)]
    assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert fake.pending_updates == []

    later = [fake.push_message(CHAT, f"dopo {n}") for n in range(3)]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == later[-1:]
    assert [u.update_id for u in await bot.get_updates()] == later[-1:]  # the rest is forgotten

    updates = await bot.get_updates(offset=later[-1] + 1, allowed_updates=["callback_query"])
    assert updates == ()
    fake.push_message(CHAT, "filtrato: solo callback_query ammesse")
    sent = await bot.send_message(CHAT, "Scegli", reply_markup=keyboard("si"))
    _, query_id = fake.push_callback(CHAT, sent.message_id, "si")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.id == query_id
    assert isinstance(update.callback_query.message, Message)
    assert update.callback_query.message.text == "Scegli"
    assert fake.stats.updates_filtered == 1


async def test_get_updates_long_polls(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for(lambda: "getUpdates" in fake.calls)
    update_id = fake.push_message(CHAT, "/start")
    (update,) = await asyncio.wait_for(poll, 2)
    assert update.update_id == update_id
    assert update.message is not None and update.message.text == "/start"
    assert update.message.entities[0].type == "bot_command"

    started = asyncio.get_running_loop().time()
    assert await bot.get_updates(offset=update_id + 1, timeout=dtm.timedelta(seconds=0.2)) == ()
    assert asyncio.get_running_loop().time() - started >= 0.2

    # A second instance polling cuts off the first (PTB never overlaps its own polls: its
    # getUpdates connection pool holds a single connection).
    async with Bot(fake.token, base_url=fake.base_url) as other_instance:
        first = asyncio.create_task(bot.get_updates(timeout=10))
        await fake.wait_for(lambda: fake.calls.count("getUpdates") == 3)
        second = asyncio.create_task(other_instance.get_updates(timeout=10))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        fake.push_message(CHAT, "ciao")
        assert len(await second) == 1


async def test_webhook_makes_get_updates_conflict(fake: FakeTelegram, bot: Bot) -> None:
    fake.push_message(CHAT, "in attesa")
    url = "https://ascolto.example/tg"
    await bot.set_webhook(url, secret_token="s3gr3t0", allowed_updates=["message"])
    assert fake.webhook is not None and fake.webhook.secret_token == "s3gr3t0"
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.allowed_updates) == (url, 1, ("message",))
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook(url, secret_token="non valido!")

    await bot.delete_webhook(drop_pending_updates=True)
    assert fake.webhook is None
    assert await bot.get_updates() == ()


async def test_deliver_webhook_posts_with_the_secret_header(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    statuses = iter([500, 200])

    async def receiver(request: Request) -> Response:
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        received.append((secret, await request.json()))
        return Response(status_code=next(statuses))

    app = Starlette(routes=[Route("/telegram", receiver, methods=["POST"])])
    async with serve_loopback(app) as root:
        await bot.set_webhook(f"{root}/telegram", secret_token="s3gr3t0")
        update_id = fake.push_message(CHAT, "via webhook")
        assert await fake.deliver_webhook(update_id, redeliver=True) == 200

    assert [secret for secret, _ in received] == ["s3gr3t0", "s3gr3t0"]  # retried after the 500
    update = Update.de_json(received[-1][1], bot)
    assert update.message is not None and update.message.text == "via webhook"
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_edits_and_callback_answers(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Scegli", reply_markup=keyboard("a", "b"))
    _, query_id = fake.push_callback(CHAT, sent.message_id, "a")
    assert await bot.answer_callback_query(query_id, text="Fatto")
    with pytest.raises(BadRequest, match="^Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="^Query is too old"):
        await bot.answer_callback_query("sconosciuto")

    edited = await bot.edit_message_text("Hai scelto a", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "Hai scelto a"
    assert edited.reply_markup is None  # no reply_markup: Telegram drops the keyboard
    with pytest.raises(BadRequest, match="^Message is not modified"):
        await bot.edit_message_text("Hai scelto a", chat_id=CHAT, message_id=sent.message_id)
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("c"))
    with pytest.raises(BadRequest, match="^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    fake.push_message(CHAT, "mio")
    user_message_id = fake.pending_updates[-1]["message"]["message_id"]
    with pytest.raises(BadRequest, match="^Message can't be edited$"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=user_message_id)

    assert [(a.callback_query_id, a.text) for a in fake.callback_answers] == [(query_id, "Fatto")]
    assert [(e.method, e.text) for e in fake.edits] == [
        ("editMessageText", "Hai scelto a"),
        ("editMessageReplyMarkup", None),
    ]
    assert fake.edits[-1].reply_markup == keyboard("c").to_dict()


async def test_files_upload_and_download(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_document(CHAT, b"ricevuta", filename="ricevuta.txt", caption="Ecco")
    assert sent.document is not None and sent.document.file_name == "ricevuta.txt"
    assert sent.caption == "Ecco" and fake.sent[-1].caption == "Ecco"
    photo = await bot.send_photo(CHAT, b"\xff\xd8jpeg")
    assert photo.photo[0].file_size == 6

    telegram_file = await bot.get_file(sent.document.file_id)
    assert telegram_file.file_path is not None
    assert telegram_file.file_path.startswith(fake.base_file_url)
    assert await telegram_file.download_as_bytearray() == bytearray(b"ricevuta")

    fake.push_voice(CHAT, b"OggS-nota-vocale")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.voice is not None
    voice_file = await update.message.voice.get_file()
    assert await voice_file.download_as_bytearray() == bytearray(b"OggS-nota-vocale")
    with pytest.raises(BadRequest, match="^Invalid file_id$"):
        await bot.get_file("non-esiste")


async def test_push_variants_parse_as_real_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.push_location(CHAT, 45.07, 7.69)
    fake.push_photo(CHAT, caption="foto")
    fake.push_document(CHAT)
    fake.push_sticker(CHAT)
    first_id = fake.pending_updates[0]["message"]["message_id"]
    fake.push_edited_message(CHAT, first_id, "corretto")
    fake.push_message(-100123, "nel gruppo", user_id=9, chat_type="supergroup")
    updates = await bot.get_updates()
    location, photo, document, sticker, edited, group = (u.effective_message for u in updates)
    assert location is not None and location.location is not None
    assert location.location.latitude == 45.07
    assert photo is not None and photo.caption == "foto" and photo.photo
    assert document is not None and document.document is not None
    assert sticker is not None and sticker.sticker is not None and sticker.sticker.emoji == "👍"
    assert updates[4].edited_message is not None
    assert edited is not None and (edited.message_id, edited.text) == (first_id, "corretto")
    assert group is not None and group.chat.type == "supergroup"
    assert group.from_user is not None and group.from_user.id == 9


async def test_commands_are_stored_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("start", "Inizia"), BotCommand("aiuto", "Aiuto")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands([BotCommand("segnala", "Segnala")], scope=private)
    assert [c.command for c in await bot.get_my_commands()] == ["start", "aiuto"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    assert [c.command for c in await bot.get_my_commands(scope=private)] == ["segnala"]
    assert fake.commands_for("en") == [{"command": "start", "description": "Start"}]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Non Valido", "x")])


async def test_json_and_query_string_bodies_are_accepted(fake: FakeTelegram) -> None:
    method_url = f"{fake.base_url}{fake.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        as_json = await client.post(method_url, json={"chat_id": CHAT, "text": "json"})
        as_query = await client.get(method_url, params={"chat_id": CHAT, "text": "query"})
    assert as_json.json()["result"]["text"] == "json"
    assert as_query.json()["result"]["message_id"] == 2
    assert fake.requests[-2].params == {"chat_id": CHAT, "text": "json"}


async def test_wrong_token_and_unknown_method_are_invalid_token(fake: FakeTelegram) -> None:
    # Bot.initialize() rewrites getMe's 401 "Unauthorized" into its own message.
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("1:wrong", base_url=fake.base_url):
            pass
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        with pytest.raises(InvalidToken, match="^Not Found$"):
            await bot.send_dice(CHAT)  # not implemented by the fake: 404 like Telegram


async def test_application_polling_end_to_end(fake: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Hai scritto: {update.effective_message.text}")

    app = Application.builder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        fake.push_message(CHAT, "mi serve aiuto")
        await fake.wait_for(lambda: fake.messages_to(CHAT))
        await app.updater.stop()
        await app.stop()
    assert fake.messages_to(CHAT)[0].text == "Hai scritto: mi serve aiuto"
    assert fake.pending_updates == []  # the updater's final getUpdates confirmed it
    assert fake.stats.flood_429 == 0
