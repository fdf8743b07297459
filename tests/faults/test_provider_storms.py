"""The Bot API answering a storm of 429s and 5xx: no message lost or doubled, retry_after honoured, no retry storm."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from bot.app import build_core
from bot.channels.telegram import build
from bot.config import DispatcherSettings, TelegramSettings
from bot.clock import utc_now
from storage import outbox
from storage.db import transaction
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

CHATS = 15
PER_CHAT = 3
THROTTLED = 8
SERVER_ERRORS = 8
RETRY_AFTER = 1


async def test_429_and_5xx_storm_loses_nothing_and_honours_retry_after(db_url: str) -> None:
    async with FakeTelegram() as fake:  # Telegram's real flood limits stay on
        settings = make_settings(
            db_url,
            telegram=TelegramSettings(token=fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url),  # type: ignore[arg-type]
            dispatcher=DispatcherSettings(backoff_base_seconds=0.05, backoff_max_seconds=0.5, idle_poll_seconds=0.05),
        )
        core = await build_core(settings)
        channel = await build(core)
        assert channel.startup is not None and channel.shutdown is not None
        await channel.startup()
        async with transaction(core.sessions) as session:
            for n in range(PER_CHAT):
                for chat in range(1, CHATS + 1):
                    await outbox.enqueue(session, channel="telegram", recipient=str(chat), citizen_id=None, text=f"{chat}:{n}", now=utc_now())
        fake.fail_next("sendMessage", 429, count=THROTTLED, retry_after=RETRY_AFTER)
        fake.fail_next("sendMessage", 502, count=SERVER_ERRORS, description="Bad Gateway")
        dispatcher = core.dispatcher({"telegram": channel.sender})
        stop = asyncio.Event()
        sending = asyncio.create_task(dispatcher.run_forever(stop))
        try:
            await fake.wait_for(lambda: len(fake.sent) >= CHATS * PER_CHAT, timeout=15)
            await asyncio.sleep(0.2)  # anything extra would show up now
            async with core.sessions() as session:
                pending = await session.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)
                )
        finally:
            stop.set()
            await sending
            await channel.shutdown()
            await core.close()
    texts = [m.text for m in fake.sent]
    assert sorted(texts) == sorted(f"{c}:{n}" for c in range(1, CHATS + 1) for n in range(PER_CHAT)), "lost or doubled"
    assert pending == 0
    for chat in range(1, CHATS + 1):
        assert [m.text for m in fake.messages_to(chat)] == [f"{chat}:{n}" for n in range(PER_CHAT)]
    sends = [call for call in fake.requests if call.method == "sendMessage"]
    # No retry storm: every failure cost exactly one more request, and Telegram's own limits were never hit.
    assert len(sends) == CHATS * PER_CHAT + THROTTLED + SERVER_ERRORS
    assert fake.stats.flood_429 == 0
    by_chat: dict[int, list[float]] = defaultdict(list)
    for call in sends:
        by_chat[int(call.params["chat_id"])].append(call.at)
    for call in sends[:THROTTLED]:
        times = by_chat[int(call.params["chat_id"])]
        later = [t for t in times if t > call.at]
        assert later and later[0] - call.at >= RETRY_AFTER - 0.05, "asked again before retry_after"
