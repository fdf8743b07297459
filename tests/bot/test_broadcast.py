"""`/annuncio` to a thousand people, end to end: the admin's chat, the outbox, the real senders against the fakes.

Each fake enforces the rate its sender was given, so a pacing bug shows up as 429s. The rates are
higher than Telegram's or Twilio's real ones to keep the wall time bounded; what is tested is that
each sender keeps to the rate it is configured with, whatever the number.

Loopback jitter: a message that left later can reach the fake sooner, so a fake holding *exactly*
the sender's budget refuses one now and then even when the sender paces perfectly (the window
or bucket is full to the last token in steady state). Each fake therefore allows 10% on top of
the sender's rate: an unpaced sender, or one twice too fast, still meets hundreds of 429s.

The admin's "Annuncio in partenza" is written after the broadcast's rows in the same transaction,
but the outbox claims interactive rows (no `broadcast_id`) before broadcast rows, so it reaches the
admin within the first batch, ahead of nearly all the announcements; the report comes last
(docs/architecture.md, "Announcements").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram.ext import AIORateLimiter

from bot.app import build_core
from bot.core import Core
from bot.channels.telegram import build as build_telegram
from bot.channels.web import build_web_app
from bot.channels.whatsapp import build as build_whatsapp
from bot.config import AdminSettings, DispatcherSettings, TelegramSettings
from bot.jobs.broadcasts import finish_broadcasts
from storage.db import transaction
from storage.models import Broadcast, Citizen, OutboxMessage, OutboxStatus
from tests.bot.channels.test_telegram import FAST_POLL
from tests.helpers.asgi import LateApp
from tests.conftest import make_settings, whatsapp_settings
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio, serve_loopback

RECIPIENTS = 1000
OPTED_OUT = 30
REFUSED = 20
"""Citizens who wrote STOP (opted out of everything) and who sent /stop_annunci."""
TELEGRAM_RATE = 50.0
WHATSAPP_RATE = 100.0
"""Messages a second the senders are given (Telegram overall, WhatsApp per sender number). They are
below what the loopback stack manages on a loaded CI machine (Telegram ~75/s, WhatsApp ~200/s
measured on two shared cores), so the senders' pacing is what sets the pace and a pacing bug meets
429s: with the senders' pacing switched off, the Telegram fake refused 647 sends and the WhatsApp
fake 101. Faster rates would shorten the
test but, on such a machine, test nothing about pacing."""
MARGIN = 1.1
"""The fakes allow the sender's rate plus 10% (loopback jitter, module docstring)."""
WHATSAPP_BURST = int(WHATSAPP_RATE * 1.5)
"""The WhatsApp fake's bucket holds half a second more than the sender's: a stall of the one event
loop that runs the bot and the fake (a busy CI machine) lands the sends the limiter released during
it together, and with a bucket of 110 that was 49-56 refusals in 2 of 4 full local runs. With the
sender's pacing lifted to 400/s the fake still refuses 758 of them: the check keeps its teeth."""
TEXT = "Vaccini antinfluenzali gratuiti in farmacia fino a sabato."
REPORT = "1.000 inviati, 0 non inviati, 0 fermi, su 1.000"
TELEGRAM_ADMIN = 7
BATCH = 50
AHEAD_AT_MOST = 4 * BATCH
"""Announcements that may leave before the admin's "Annuncio in partenza", which is claimed first
but not sent first: the rows already claimed and in flight (up to 2 x BATCH in the pipelined
dispatcher) go on, and on Telegram the admin's chat waits its 1/s turn after the preview, a second
in which ~TELEGRAM_RATE announcements leave. Queued behind the broadcast, all 1,000 would."""


async def _citizens(core: Core, channel: str, ids: Sequence[str], **extra: object) -> None:
    now = datetime.now(UTC)
    async with transaction(core.sessions) as session:
        for external_id in ids:
            session.add(
                Citizen(channel=channel, external_id=external_id, consent_version=1, created_at=now, last_inbound_at=now, **extra)
            )


async def _audience(core: Core, channel: str, make_id: Callable[[int], str]) -> tuple[list[str], list[str]]:
    """RECIPIENTS reachable citizens, and the opted-out ones (STOP, or announcements refused)."""
    reachable = [make_id(i) for i in range(RECIPIENTS)]
    stopped = [make_id(RECIPIENTS + i) for i in range(OPTED_OUT)]
    refused = [make_id(RECIPIENTS + OPTED_OUT + i) for i in range(REFUSED)]
    await _citizens(core, channel, reachable)
    await _citizens(core, channel, stopped, opted_out_at=datetime.now(UTC))
    await _citizens(core, channel, refused, broadcasts_refused_at=datetime.now(UTC))
    return reachable, stopped + refused


async def _until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def _pending(core: Core) -> int:
    async with core.sessions() as session:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        return int(await session.scalar(query) or 0)


async def _finish(core: Core, wake: Callable[[], None], seen_report: Callable[[], bool], started: float) -> float:
    """Wait for the outbox to drain, run the report job once, wait for the report; returns the seconds the sending took."""
    # The admin's "sì" may still be on its way in (Telegram: the next getUpdates): an outbox with
    # nothing pending says nothing until the broadcast's rows are written.
    await _until(lambda: _broadcast_written(core), timeout=60, what="the confirmation never wrote the broadcast")
    await _until(lambda: _no_pending(core), timeout=120, what="the broadcast never left the outbox")
    took = time.monotonic() - started
    assert await finish_broadcasts(core, datetime.now(UTC)) == 1
    wake()

    async def reported() -> bool:
        return seen_report()

    await _until(reported, timeout=30, what="the admin never got the report")
    return took


async def _no_pending(core: Core) -> bool:
    return await _pending(core) == 0


async def _broadcast_written(core: Core) -> bool:
    async with core.sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(Broadcast)))


def _settings(db_url: str, **sections: object) -> Any:
    return make_settings(db_url, dispatcher=DispatcherSettings(batch_size=BATCH, idle_poll_seconds=0.05), **sections)


# --- Telegram ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _telegram(db_url: str, fake: FakeTelegram) -> AsyncIterator[tuple[Core, Callable[[], None]]]:
    """The channel as `ascolto run` builds it (bot/channels/telegram.build), polling, with one admin."""
    settings = _settings(
        db_url,
        telegram=TelegramSettings(
            token=SecretStr(fake.token),
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            per_chat_per_second=40.0,
            overall_per_second=TELEGRAM_RATE,
        ),
        admin=AdminSettings(telegram_ids=[str(TELEGRAM_ADMIN)]),
    )
    core = await build_core(settings)
    try:
        channel = await build_telegram(core, rate_limiter=AIORateLimiter(overall_max_rate=TELEGRAM_RATE, max_retries=0), poll=FAST_POLL)
        assert channel.startup is not None and channel.shutdown is not None
        await channel.startup()
        dispatcher = core.dispatcher({channel.name: channel.sender})
        stop = asyncio.Event()
        tasks = [asyncio.create_task(dispatcher.run_forever(stop))] + [asyncio.create_task(t(stop)) for t in channel.tasks]
        try:
            yield core, dispatcher.wake
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await channel.shutdown()
    finally:
        await core.close()


async def test_a_thousand_telegram_recipients_get_one_message_each_within_the_flood_limits(sqlite_url: str) -> None:
    # Per chat a burst of 3 then 50/s (we send one message a chat); overall at most
    # TELEGRAM_RATE * MARGIN sends in any sliding second.
    flood = FloodPolicy(per_chat_capacity=3, per_chat_refill_per_second=50, global_per_second=int(TELEGRAM_RATE * MARGIN))
    async with FakeTelegram(flood=flood) as fake, _telegram(sqlite_url, fake) as (core, wake):
        reachable, opted_out = await _audience(core, "telegram", lambda i: str(100_000 + i))

        async def admin_says(text: str) -> str:
            before = len(fake.messages_to(TELEGRAM_ADMIN))
            fake.push_message(TELEGRAM_ADMIN, text)
            await fake.wait_for(lambda: len(fake.messages_to(TELEGRAM_ADMIN)) > before, timeout=30)
            return fake.messages_to(TELEGRAM_ADMIN)[-1].text or ""

        assert "testo dell'annuncio" in await admin_says("/annuncio")
        preview = await admin_says(TEXT)
        assert TEXT in preview and "1000 persone" in preview.replace(".", "")
        started = time.monotonic()
        fake.push_message(TELEGRAM_ADMIN, "sì")  # its answer overtakes the broadcast rows (module docstring)

        def seen_report() -> bool:
            return any(REPORT in (m.text or "") for m in fake.messages_to(TELEGRAM_ADMIN))

        took = await _finish(core, wake, seen_report, started)
        admin = [m.text or "" for m in fake.messages_to(TELEGRAM_ADMIN)]
        assert "Annuncio in partenza per 1.000 persone" in admin[-2] and REPORT in admin[-1]
        assert _announcements_before_in_partenza([m.text or "" for m in fake.sent]) < AHEAD_AT_MOST, "it is not queued behind the broadcast"

        got = {chat: [m for m in fake.messages_to(int(chat)) if TEXT in (m.text or "")] for chat in reachable + opted_out}
        assert all(len(got[chat]) == 1 for chat in reachable), "each reachable citizen gets the announcement once"
        assert all(got[chat] == [] for chat in opted_out), "opted-out citizens get nothing"
        assert fake.stats.flood_429 == 0
        assert sum(len(v) for v in got.values()) == RECIPIENTS
        # It really was paced: RECIPIENTS at TELEGRAM_RATE a second take at least this long.
        assert took >= (RECIPIENTS - 1) / TELEGRAM_RATE * 0.9


def _announcements_before_in_partenza(texts: Sequence[str]) -> int:
    """How many announcements left before the admin's "Annuncio in partenza" (all of them, before interactive rows went first)."""
    at = next(i for i, t in enumerate(texts) if "Annuncio in partenza" in t)
    return sum(TEXT in t for t in texts[:at])


# --- WhatsApp ---------------------------------------------------------------------------------

WHATSAPP_ADMIN = "+393330000001"


@contextlib.asynccontextmanager
async def _whatsapp(db_url: str, fake: FakeTwilio) -> AsyncIterator[tuple[Core, Callable[[], None], Callable[[str], Any]]]:
    """The channel as `ascolto run` builds it (bot/channels/whatsapp.build) behind its signed webhook."""
    late = LateApp()
    async with serve_loopback(late) as base_url, httpx.AsyncClient(trust_env=False) as http:
        settings = _settings(
            db_url,
            whatsapp=whatsapp_settings(fake, base_url, messages_per_second=WHATSAPP_RATE),
            admin=AdminSettings(whatsapp_numbers=[WHATSAPP_ADMIN]),
        )
        core = await build_core(settings)
        channel = await build_whatsapp(core)
        late.app = build_web_app(core, channel.routes)
        dispatcher = core.dispatcher({channel.name: channel.sender})
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run_forever(stop))

        async def post(body: str) -> httpx.Response:
            url = base_url + "/whatsapp"
            params = fake.inbound_params(WHATSAPP_ADMIN, body)
            return await http.post(url, data=params, headers={"X-Twilio-Signature": fake.sign(url, params)})

        try:
            yield core, dispatcher.wake, post
        finally:
            stop.set()
            await task
            assert channel.shutdown is not None
            await channel.shutdown()
            await core.close()


@TWILIO_AIOHTTP_DEPRECATIONS
async def test_a_thousand_whatsapp_recipients_get_one_message_each_within_the_rate_limit(sqlite_url: str) -> None:
    # Twilio's per-sender throughput as a token bucket: the sender's limiter is a bucket of
    # WHATSAPP_RATE refilled at that rate (bot/channels/whatsapp.limiter_for); the fake's refills 10%
    # faster and holds WHATSAPP_BURST.
    async with FakeTwilio(rate=WHATSAPP_RATE * MARGIN, burst=WHATSAPP_BURST) as fake, _whatsapp(sqlite_url, fake) as (core, wake, post):
        reachable, opted_out = await _audience(core, "whatsapp", lambda i: f"+39340{i:07d}")

        async def admin_says(text: str) -> str:
            before = len(fake.messages_to(WHATSAPP_ADMIN))
            assert (await post(text)).status_code == 200
            await fake.wait_for(lambda: len(fake.messages_to(WHATSAPP_ADMIN)) > before, timeout=30)
            return fake.messages_to(WHATSAPP_ADMIN)[-1]["body"] or ""

        assert "testo dell'annuncio" in await admin_says("annuncio")
        preview = await admin_says(TEXT)
        assert TEXT in preview and "1000 persone" in preview.replace(".", "")
        started = time.monotonic()
        assert (await post("1")).status_code == 200  # "1" = Sì; the answer overtakes the broadcast rows

        def seen_report() -> bool:
            return any(REPORT in (m["body"] or "") for m in fake.messages_to(WHATSAPP_ADMIN))

        took = await _finish(core, wake, seen_report, started)
        admin = [m["body"] or "" for m in fake.messages_to(WHATSAPP_ADMIN)]
        assert "Annuncio in partenza per 1.000 persone" in admin[-2] and REPORT in admin[-1]
        assert _announcements_before_in_partenza([m["body"] or "" for m in fake.messages]) < AHEAD_AT_MOST, "it is not queued behind the broadcast"

        got = {n: [m for m in fake.messages_to(n) if TEXT in (m["body"] or "")] for n in reachable + opted_out}
        assert all(len(got[n]) == 1 for n in reachable), "each reachable citizen gets the announcement once"
        assert all(got[n] == [] for n in opted_out), "opted-out citizens get nothing"
        assert fake.stats.throttled == 0
        assert sum(len(v) for v in got.values()) == RECIPIENTS
        # Paced: after the sender's burst of WHATSAPP_RATE, the rest leave at that rate.
        assert took >= (RECIPIENTS - WHATSAPP_RATE) / WHATSAPP_RATE * 0.9
