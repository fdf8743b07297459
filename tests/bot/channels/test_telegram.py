"""Telegram end to end: PTB's real Bot and Application against the loopback fake, the real pipeline and store.

What depends on the database runs on SQLite and PostgreSQL (`db_url`); limits, routing and
parsing, which do not, run on SQLite only (`sqlite_url`) to keep the suite quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from telegram.ext import AIORateLimiter

from bot.app import build_core
from bot.core import Core
from bot.channels.base import Channel
from bot.channels.serve import serve
from bot.channels.telegram import Webhook, build, webhook_of
from bot.channels.telegram_polling import PollPolicy
from bot.channels.web import build_web_app
from bot.config import ConfigError, Settings, TelegramSettings
from bot.dispatcher import Dispatcher
from conversations import Msg, Option, Reads, Reply, State, Turn, Who, command_name
from storage import outbox
from storage.db import transaction
from storage.models import Citizen, InboundEvent, Need, NeedAttachment, OutboxMessage, OutboxStatus
from tests.helpers.asgi import LateApp
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy, SentMessage, serve_loopback
from tests.helpers.entropy import seeded

CHAT = 4242
SECRET = "s3cret_Token-for-tests"
FAST_POLL = PollPolicy(timeout=10, backoff_base=0.01, backoff_max=0.05)


@dataclass
class Running:
    core: Core
    fake: FakeTelegram
    channel: Channel
    dispatcher: Dispatcher
    webhook_url: str | None
    taps: list[str] = field(default_factory=list)

    async def settled(self, timeout: float = 20.0) -> None:
        """Every committed reply has left the outbox (sent or failed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await count(self.core, OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING):
            assert asyncio.get_running_loop().time() < deadline, "outbox never drained"
            await asyncio.sleep(0.01)

    async def deliver(self, update_id: int) -> None:
        """Telegram delivers the update (webhook POST, or our next getUpdates); replies go out."""
        if self.webhook_url is not None:
            assert await self.fake.deliver_webhook(update_id) == 200
        else:
            # The offset moves past an update only after it was committed.
            await self.fake.wait_for(lambda: all(u["update_id"] != update_id for u in self.fake.pending_updates))
        await self.settled()

    async def say(self, text: str, chat: int = CHAT) -> None:
        await self.deliver(self.fake.push_message(chat, text))

    async def tap(self, label: str, chat: int = CHAT, *, on: SentMessage | None = None) -> None:
        """Press the button labelled `label` on the last keyboard (or on the message `on`)."""
        shown = on or last_keyboard(self.fake, chat)
        assert shown.reply_markup is not None
        data = next(b["callback_data"] for row in shown.reply_markup["inline_keyboard"] for b in row if b["text"] == label)
        update_id, query_id = self.fake.push_callback(chat, shown.message_id, data)
        self.taps.append(query_id)
        await self.deliver(update_id)

    def t(self, msgid: str) -> str:
        """The Italian text of a msgid, as the citizen sees it."""
        return self.core.translator.gettext(msgid, "it")

    def texts(self, chat: int = CHAT) -> list[str]:
        return [m.text or "" for m in self.fake.messages_to(chat)]


def last_keyboard(fake: FakeTelegram, chat: int = CHAT) -> SentMessage:
    return [m for m in fake.messages_to(chat) if m.reply_markup][-1]


def labels(message: SentMessage) -> list[str]:
    assert message.reply_markup is not None
    return [b["text"] for row in message.reply_markup["inline_keyboard"] for b in row]


async def count(core: Core, model: type, *where: Any) -> int:
    async with core.sessions() as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int((await session.execute(query)).scalar_one())


def telegram_settings(db_url: str, fake: FakeTelegram, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": SecretStr(fake.token),
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "per_chat_per_second": 40.0,
    } | overrides
    return make_settings(db_url, telegram=TelegramSettings(**values))


@contextlib.asynccontextmanager
async def running_telegram(
    db_url: str,
    fake: FakeTelegram,
    *,
    webhook: bool = False,
    per_chat_per_second: float = 40.0,
    overall_per_second: float = 1000.0,
) -> AsyncIterator[Running]:
    """The channel as `ascolto run` wires it: startup, the dispatcher, polling or the webhook server."""
    late = LateApp()
    async with contextlib.AsyncExitStack() as stack:
        webhook_url = None
        if webhook:
            webhook_url = await stack.enter_async_context(serve_loopback(late)) + "/telegram"
        settings = telegram_settings(
            db_url,
            fake,
            per_chat_per_second=per_chat_per_second,
            webhook_url=webhook_url,
            webhook_secret=SecretStr(SECRET) if webhook else None,
        )
        core = await build_core(settings)
        core.pipeline.entropy = seeded()
        stack.push_async_callback(core.close)
        limiter = AIORateLimiter(overall_max_rate=overall_per_second, max_retries=0)
        channel = await build(core, rate_limiter=limiter, poll=FAST_POLL)
        assert channel.startup is not None and channel.shutdown is not None
        await channel.startup()
        stack.push_async_callback(channel.shutdown)
        dispatcher = core.dispatcher({channel.name: channel.sender})
        late.app = build_web_app(core, channel.routes)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(dispatcher.run_forever(stop))]
        tasks += [asyncio.create_task(task(stop)) for task in channel.tasks]
        try:
            yield Running(core, fake, channel, dispatcher, webhook_url)
        finally:
            stop.set()
            await asyncio.gather(*tasks)


SCALED = FloodPolicy(per_chat_capacity=3, per_chat_refill_per_second=50, global_per_second=1000)
"""Telegram's limits with time running 50 times faster: bursts of 3, then 50/s a chat."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood=SCALED) as running:
        yield running


MODES = [pytest.param(False, id="polling"), pytest.param(True, id="webhook")]


# --- the whole intake ---------------------------------------------------------------------------


@pytest.mark.parametrize("webhook", MODES)
async def test_whole_intake_with_buttons_and_typed_answers(db_url: str, fake: FakeTelegram, webhook: bool) -> None:
    async with running_telegram(db_url, fake, webhook=webhook) as tg:
        await tg.say("ciao")
        assert labels(last_keyboard(fake)) == [tg.t("menu.new"), tg.t("menu.mine"), tg.t("menu.privacy")]
        await tg.tap(tg.t("menu.new"))
        await tg.tap(tg.t("intake.consent_yes"))
        await tg.say("5")  # typed: the number of "Spesa e beni di prima necessità"
        await tg.say("Mia madre ha 85 anni e le serve aiuto per la spesa")
        await tg.say("Ravenna")
        await tg.tap(tg.t("urgency.alta"))
        await tg.say("1")  # typed: "Qui in chat"
        await tg.tap(tg.t("intake.confirm_send"))
        async with tg.core.sessions() as session:
            need = (await session.execute(select(Need))).scalar_one()
            citizen = (await session.execute(select(Citizen))).scalar_one()
        assert (need.category_slug, need.comune_istat, need.urgency) == ("spesa", "039014", "alta")
        assert (citizen.channel, citizen.external_id) == ("telegram", str(CHAT))
        assert need.ticket in tg.texts()[-1]
        # Every button press was answered and its message now shows the choice, without the keyboard.
        assert sorted(a.callback_query_id for a in fake.callback_answers) == sorted(tg.taps)
        chosen = ("menu.new", "intake.consent_yes", "urgency.alta", "intake.confirm_send")
        assert [e.text.rsplit("\n", 1)[-1] for e in fake.edits if e.text] == [f"✓ {tg.t(c)}" for c in chosen]
        assert all(e.reply_markup is None for e in fake.edits)
        assert all(m.parse_mode is None for m in fake.sent)
        assert fake.stats.flood_429 == 0
    assert fake.pending_updates == []  # polling confirmed the last updates on the way out


async def test_buttons_label_and_payload_fit_when_the_payload_is_too_long(sqlite_url: str, fake: FakeTelegram) -> None:
    """A payload longer than callback_data allows is sent by position and still picks the right option."""
    async with running_telegram(sqlite_url, fake) as tg:
        async with transaction(tg.core.sessions) as session:
            await outbox.enqueue(
                session, channel="telegram", recipient=str(CHAT), citizen_id=None, text="Quale?",
                options=[("a" * 70, "Prima"), ("b" * 70, "Seconda")], conversation_version=None,
                now=tg.core.pipeline.clock(),
            )  # fmt: skip
        tg.dispatcher.wake()
        await tg.settled()
        assert [b["callback_data"] for row in last_keyboard(fake).reply_markup["inline_keyboard"] for b in row] == [  # type: ignore[index]
            "v#1", "v#2",
        ]  # fmt: skip


# --- redelivery, stale buttons, the webhook secret ------------------------------------------------


async def test_redelivered_update_creates_one_need(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake, webhook=True) as tg:
        for text in ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa ogni settimana", "Ravenna", "1", "1"):
            await tg.say(text)
        shown = last_keyboard(fake)
        data = shown.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        update_id, _ = fake.push_callback(CHAT, shown.message_id, data)
        update = next(u for u in fake.pending_updates if u["update_id"] == update_id)
        # Telegram did not get our 200 (a timeout on its side) and delivers the same update twice.
        assert await fake.deliver_webhook(update) == 200
        assert await fake.deliver_webhook(update) == 200
        await tg.settled()
        assert await count(tg.core, Need) == 1
        async with tg.core.sessions() as session:
            ticket = (await session.execute(select(Need.ticket))).scalar_one()
        assert sum(ticket in t for t in tg.texts()) == 1
        assert await count(tg.core, InboundEvent, InboundEvent.external_id == str(update_id)) == 1


async def test_stale_button_is_refused_kindly(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        await tg.say("/nuovo")
        consent = last_keyboard(fake)
        await tg.tap(tg.t("intake.consent_yes"))  # now the category question is asked
        categories = last_keyboard(fake)
        await tg.tap(tg.t("intake.consent_no"), on=consent)  # an old button, pressed later
        assert tg.texts()[-1].startswith(tg.t("common.stale_button"))
        assert labels(last_keyboard(fake)) == labels(categories)  # the current question again
        async with tg.core.sessions() as session:
            assert (await session.execute(select(Citizen.consent_version))).scalar_one() == 1  # not withdrawn
        await tg.tap("Casa e abitare")  # the fresh keyboard works
        assert tg.texts()[-1] == tg.t("intake.ask_description")


async def test_unreadable_button_data_is_treated_as_stale(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await tg.say("/nuovo")
        update_id, _ = fake.push_callback(CHAT, last_keyboard(fake).message_id, "si")  # no version: not ours
        await tg.deliver(update_id)
        assert tg.texts()[-1].startswith(tg.t("common.stale_button"))


@pytest.mark.parametrize(
    "header", [None, "wrong", SECRET + "x", SECRET[:-1], "è".encode()], ids=["missing", "wrong", "longer", "shorter", "non-ascii"]
)
async def test_wrong_webhook_secret_is_403_and_stores_nothing(
    sqlite_url: str, fake: FakeTelegram, header: str | bytes | None
) -> None:
    async with running_telegram(sqlite_url, fake, webhook=True) as tg:
        assert tg.webhook_url is not None
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "ciao",
                                              "chat": {"id": CHAT, "type": "private", "first_name": "A"}}}  # fmt: skip
        headers = {} if header is None else {"X-Telegram-Bot-Api-Secret-Token": header}
        async with httpx.AsyncClient() as client:
            response = await client.post(tg.webhook_url, json=update, headers=headers)
        assert response.status_code == 403
        assert await count(tg.core, InboundEvent) == 0
        assert await count(tg.core, Citizen) == 0
        assert fake.sent == []


async def test_the_webhook_refuses_a_body_over_web_max_json_bytes_unread(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake, webhook=True) as tg:
        assert tg.webhook_url is not None
        padding = "x" * tg.core.settings.web.max_json_bytes
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "ciao", "padding": padding,
                                              "chat": {"id": CHAT, "type": "private", "first_name": "A"}}}  # fmt: skip
        async with httpx.AsyncClient() as client:
            response = await client.post(tg.webhook_url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 413
        assert await count(tg.core, InboundEvent) == 0
        assert fake.sent == []


async def test_webhook_is_registered_with_the_secret_and_allowed_updates(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake, webhook=True) as tg:
        assert fake.webhook is not None
        assert (fake.webhook.url, fake.webhook.secret_token) == (tg.webhook_url, SECRET)
        assert fake.webhook.allowed_updates == ["message", "callback_query"]


async def test_polling_removes_a_webhook_left_behind(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake, webhook=True):
        pass
    assert fake.webhook is not None
    async with running_telegram(sqlite_url, fake) as tg:
        await tg.say("ciao")
    assert fake.webhook is None
    assert "deleteWebhook" in fake.calls


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        pytest.param(None, "telegram.webhook_secret: required when telegram.webhook_url is set", id="missing"),
        pytest.param("with spaces", "telegram.webhook_secret: expected 1-256 characters", id="bad-characters"),
    ],
)
def test_a_webhook_needs_a_valid_secret(secret: str | None, message: str) -> None:
    settings = TelegramSettings(
        token=SecretStr("1:x"),
        webhook_url="https://example.org/telegram",
        webhook_secret=None if secret is None else SecretStr(secret),
    )
    with pytest.raises(ConfigError, match=f"^{message}"):
        webhook_of(settings)


def test_the_webhook_route_is_the_path_of_its_url() -> None:
    settings = TelegramSettings(webhook_url="https://example.org/bots/telegram", webhook_secret=SecretStr("abc"))
    assert webhook_of(settings) == Webhook("https://example.org/bots/telegram", "/bots/telegram", "abc")
    assert webhook_of(TelegramSettings()) is None


# --- rich input, groups, edits --------------------------------------------------------------------


async def test_location_photo_and_voice_are_kept_with_the_need(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        for text in ("/nuovo", "1", "5", "Serve aiuto per ritirare i farmaci in farmacia"):
            await tg.say(text)
        await tg.deliver(fake.push_location(CHAT, 44.4184, 12.2035))
        assert tg.texts()[-2] == tg.t("common.location_received")
        await tg.deliver(fake.push_photo(CHAT, b"\xff\xd8 ricetta"))
        await tg.deliver(fake.push_voice(CHAT, b"OggS voce"))
        assert tg.texts()[-1] == tg.t("voice.listening")  # heard after the commit (tests/bot/test_voice.py)
        await tg.deliver(fake.push_sticker(CHAT))
        assert tg.texts()[-2] == tg.t("common.unsupported")
        for text in ("Ravenna", "1", "1", "1"):
            await tg.say(text)
        async with tg.core.sessions() as session:
            need = (await session.execute(select(Need))).scalar_one()
            files = (await session.execute(select(NeedAttachment).order_by(NeedAttachment.id))).scalars().all()
        assert (need.latitude, need.longitude, need.comune_istat) == (44.4184, 12.2035, "039014")
        assert [(f.kind, f.content_type) for f in files] == [("photo", "image/jpeg"), ("voice", "audio/ogg")]
        assert all(f.ref.startswith("FAKE") and f.size for f in files)


async def test_group_gets_an_invitation_and_nothing_is_stored(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        group = -100777
        update_id = fake.push_message(group, "/start", chat_type="supergroup", user_id=CHAT)
        await fake.wait_for(lambda: fake.messages_to(group))
        await tg.deliver(update_id)
        [invitation] = tg.texts(group)
        assert "scrivimi in privato" in invitation.lower() and "@ascolto_test_bot" in invitation
        assert await count(tg.core, Citizen) == 0
        assert await count(tg.core, InboundEvent) == 0


@pytest.mark.parametrize("webhook", MODES)
async def test_edited_message_creates_nothing(sqlite_url: str, fake: FakeTelegram, webhook: bool) -> None:
    async with running_telegram(sqlite_url, fake, webhook=webhook) as tg:
        await tg.say("ciao")
        sent = len(fake.sent)
        fake.push_edited_message(CHAT, 1, "ciao ciao")  # not asked for: Telegram does not send it
        assert fake.stats.updates_filtered == 1
        if webhook:  # and should one come anyway, it is acknowledged and ignored
            edited = {"update_id": 999, "edited_message": {"message_id": 1, "date": 0, "edit_date": 1, "text": "x",
                                                            "chat": {"id": CHAT, "type": "private", "first_name": "A"}}}  # fmt: skip
            assert await fake.deliver_webhook(edited) == 200
        await tg.say("1")
        assert await count(tg.core, InboundEvent) == 2
        assert len(fake.sent) > sent


async def test_command_menu_is_registered_in_italian_and_english(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        italian, english = fake.commands_for(""), fake.commands_for("en")
        assert [c["command"] for c in italian] == ["nuovo", "miei", "indietro", "annulla", "aiuto", "privacy"]
        assert [c["command"] for c in english] == ["new", "mine", "back", "cancel", "help", "privacy"]
        assert italian[0]["description"] == "Segnala un nuovo bisogno"
        assert english[0]["description"] == "Report a new need"
        for entry in tg.core.engine.menu:  # every name in the menu does something
            assert command_name(f"/{entry.italian}") in tg.core.engine.specs
            assert command_name(f"/{entry.english}") in tg.core.engine.specs


# --- failures: the database, the Bot API ------------------------------------------------------------


def fail_first(core: Core, times: int = 1) -> list[int]:
    """The database is down for the first `times` inbounds: nothing is written, the pipeline raises."""
    calls: list[int] = []
    handle = core.pipeline.handle

    async def flaky(event: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        return await handle(event)

    core.pipeline.handle = flaky  # type: ignore[method-assign]
    return calls


async def test_webhook_answers_503_while_the_database_is_down_then_stores_once(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake, webhook=True) as tg:
        calls = fail_first(tg.core)
        update_id = fake.push_message(CHAT, "ciao")
        assert await fake.deliver_webhook(update_id, redeliver=True) == 200
        assert fake.webhook is not None and fake.webhook.last_error_message == (
            "Wrong response from the webhook: 503 Service Unavailable"
        )
        await tg.settled()
        assert len(calls) == 2
        assert await count(tg.core, InboundEvent) == 1
        assert tg.texts()[0].startswith("Ciao! Sono Ascolto")


async def test_polling_does_not_confirm_an_update_until_it_is_stored(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        calls = fail_first(tg.core, times=3)
        await tg.say("ciao")  # confirmed only after the fourth try, the first that committed
        assert len(calls) == 4
        assert await count(tg.core, InboundEvent) == 1
        assert tg.texts()[0].startswith("Ciao! Sono Ascolto")


async def test_polling_skips_an_update_that_always_fails_and_goes_on(sqlite_url: str, fake: FakeTelegram) -> None:
    """A bug on one update must not stop the bot: after 5 tries it is skipped (a database outage never is)."""
    async with running_telegram(sqlite_url, fake) as tg:
        handle = tg.core.pipeline.handle
        tries: list[str] = []

        async def buggy(event: Any) -> Any:
            if event.text == "boom":
                tries.append(event.external_id)
                raise ValueError("a bug")
            return await handle(event)

        tg.core.pipeline.handle = buggy  # type: ignore[method-assign]
        poison = fake.push_message(CHAT, "boom")
        await tg.say("ciao")
        assert tries == [str(poison)] * FAST_POLL.max_update_attempts
        assert await count(tg.core, InboundEvent) == 1
        assert tg.texts()[0].startswith(tg.t("common.welcome").split("\n")[0])


async def test_polling_survives_bot_api_errors(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        await tg.say("ciao")
        fake.fail_next("getUpdates", 502, count=2)
        fake.fail_next("getUpdates", 429, retry_after=1)
        started = asyncio.get_running_loop().time()
        await tg.say("1")
        assert asyncio.get_running_loop().time() - started >= 1.0  # retry_after honoured
        assert await count(tg.core, InboundEvent) == 2


async def test_blocked_user_is_unreachable_without_a_retry_storm(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        fake.block_chat(CHAT)
        await tg.say("ciao")  # welcome and menu: two replies, the first meets 403
        assert await tg.dispatcher.run_once() == 0  # nothing left to retry: no storm to come
        sends = [c for c in fake.requests if c.method == "sendMessage" and int(c.params["chat_id"]) == CHAT]
        assert len(sends) == 1
        assert await count(tg.core, OutboxMessage, OutboxMessage.status == OutboxStatus.FAILED) == 2
        async with tg.core.sessions() as session:
            assert (await session.execute(select(Citizen.is_unreachable))).scalar_one() is True
        fake.unblock_chat(CHAT)
        await tg.say("ciao di nuovo")  # writing again makes them reachable
        async with tg.core.sessions() as session:
            assert (await session.execute(select(Citizen.is_unreachable))).scalar_one() is False
        assert tg.texts()


@pytest.mark.parametrize(
    ("status", "retry_after", "row_status", "attempts", "delay"),
    [
        pytest.param(None, None, OutboxStatus.SENT, 0, None, id="200-sent"),
        pytest.param(429, 7, OutboxStatus.PENDING, 0, 7.0, id="429-exactly-after-retry-after"),
        pytest.param(403, None, OutboxStatus.FAILED, 0, None, id="403-failed-unreachable"),
        pytest.param(500, None, OutboxStatus.PENDING, 1, "backoff", id="500-backoff"),
        pytest.param(400, None, OutboxStatus.FAILED, 1, None, id="400-failed"),
    ],
)
async def test_dispatcher_outcome_of_each_bot_api_answer(
    core: Core,
    fake: FakeTelegram,
    status: int | None,
    retry_after: int | None,
    row_status: str,
    attempts: int,
    delay: float | str | None,
) -> None:
    from handlers.telegram import TelegramSender
    from telegram import Bot

    now = core.pipeline.clock()
    async with transaction(core.sessions) as session:
        row = await outbox.enqueue(session, channel="telegram", recipient=str(CHAT), citizen_id=None, text="Ciao", now=now)
    if status is not None:
        fake.fail_next("sendMessage", status, retry_after=retry_after)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        dispatcher = core.dispatcher({"telegram": TelegramSender(bot)}, clock=core.pipeline.clock)
        assert await dispatcher.run_once() == 1
    async with core.sessions() as session:
        stored = await session.get(OutboxMessage, row.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (row_status, attempts)
    if row_status == OutboxStatus.SENT:
        assert stored.provider_message_id == str(fake.sent[0].message_id)
    if delay == 7.0:
        assert stored.next_attempt_at == now + dtm.timedelta(seconds=7)
    elif delay == "backoff":
        assert now <= stored.next_attempt_at <= now + dtm.timedelta(seconds=1)


# --- limits ------------------------------------------------------------------------------------------


async def enqueue_burst(core: Core, n: int, chat: int = CHAT) -> None:
    async with transaction(core.sessions) as session:
        for i in range(n):
            await outbox.enqueue(
                session, channel="telegram", recipient=str(chat), citizen_id=None, text=f"Messaggio {i + 1} di {n}",
                now=core.pipeline.clock(),
            )  # fmt: skip


async def test_burst_of_100_replies_to_one_chat_meets_no_429(sqlite_url: str, fake: FakeTelegram) -> None:
    """Scaled in time (SCALED): the fake allows 50/s a chat after a burst of 3, we send 45/s a chat."""
    async with running_telegram(sqlite_url, fake, per_chat_per_second=45) as tg:
        await enqueue_burst(tg.core, 100)
        tg.dispatcher.wake()
        await tg.settled(timeout=30)
        assert [m.text for m in fake.messages_to(CHAT)] == [f"Messaggio {i} di 100" for i in range(1, 101)]
        assert fake.stats.flood_429 == 0


async def test_at_telegrams_real_rate_a_burst_is_queued_not_refused(sqlite_url: str, fake: FakeTelegram) -> None:
    """Real limits (Telegram's ~1/s a chat after a burst of 3; our 1/s; PTB's 30/s): 5 messages, none refused.

    Without our pacing the fake would refuse two of the five (test_flood_control_is_a_real_limiter).
    """
    fake.flood = FloodPolicy()
    async with running_telegram(sqlite_url, fake, per_chat_per_second=1.0, overall_per_second=30) as tg:
        await enqueue_burst(tg.core, 5)
        tg.dispatcher.wake()
        await tg.settled(timeout=15)
        assert len(fake.messages_to(CHAT)) == 5
        assert fake.stats.flood_429 == 0


class LongReplyEngine:
    """Answers everything with a text far over 4096 characters (emoji and accents included) and buttons."""

    def __init__(self, size: int) -> None:
        self.size = size

    def recognise(self, inbound: Any, state: Any = None) -> None:
        return None

    def flow_reads(self, state: State) -> tuple[Who, frozenset[Reads]]:
        return Who.ANYONE, frozenset()

    def step(self, state: State, inbound: Any, ctx: Any, call: Any = None) -> Turn:
        line = "Perché è così? 😀 Ecco un riassunto molto lungo della tua richiesta, riga per riga."
        text = "\n".join(f"{i}. {line}" for i in range(self.size))
        options = (Option("si", "Sì"), Option("no", "No"))
        reply = Reply(Msg("common.help_step", {"help": text}), options=options)
        return Turn(state=State(version=state.version + 1), replies=(reply,), effects=())


async def test_long_text_is_split_and_never_meets_bad_request(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        tg.core.pipeline.engine = LongReplyEngine(size=200)  # type: ignore[assignment]
        await tg.say("ciao")
        sent = fake.messages_to(CHAT)
        assert len(sent) >= 5
        assert all(len(m.plain_text or "") <= 4096 for m in sent)
        assert [bool(m.reply_markup) for m in sent] == [False] * (len(sent) - 1) + [True]  # buttons on the last part
        assert await count(tg.core, OutboxMessage, OutboxMessage.status == OutboxStatus.FAILED) == 0


# --- `ascolto run` --------------------------------------------------------------------------------


async def test_serve_runs_telegram_when_a_token_is_set(sqlite_url: str, fake: FakeTelegram) -> None:
    core = await build_core(telegram_settings(sqlite_url, fake))
    try:
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(core, stop=stop))
        fake.push_message(CHAT, "ciao")
        await fake.wait_for(lambda: len(fake.messages_to(CHAT)) >= 2)
        stop.set()
        assert await serving == 0
    finally:
        await core.close()
    assert fake.messages_to(CHAT)[0].text.startswith("Ciao! Sono Ascolto")  # type: ignore[union-attr]
    assert fake.pending_updates == []


async def test_a_token_telegram_refuses_is_a_configuration_error(sqlite_url: str, fake: FakeTelegram) -> None:
    core = await build_core(telegram_settings(sqlite_url, fake, token=SecretStr("999:wrong")))
    try:
        channel = await build(core)
        assert channel.startup is not None
        with pytest.raises(ConfigError, match="^telegram.token: Telegram refused the token"):
            await channel.startup()  # and closes what it opened: `serve` never gets to shut it down
    finally:
        await core.close()
