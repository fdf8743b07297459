"""Issue 13: no phone number, chat id or citizen's words in the logs at INFO and above.

A whole conversation and its dispatch run on the WhatsApp and Telegram fakes (errors included)
with every logger at DEBUG; each record of INFO or more is formatted as a handler would
(message and traceback) and searched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import pytest
from sqlalchemy.exc import IntegrityError

from bot.core import Core
from bot.dispatcher import Dispatcher
from storage.db import create_engine, session_factory, transaction
from storage.models import Citizen
from tests.bot.channels.test_telegram import fake, running_telegram  # noqa: F401 (the fixture)
from tests.bot.channels.test_whatsapp import rig_for
from tests.bot.test_dispatcher import enqueue
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import START, FakeClock

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

WA_USER = "+393471122334"
TG_CHAT = 918273645
PHONE = "3289876543"
WORDS = "zucchine"
SCRIPT = ("ciao", "1", "1", "5", f"Mi servono {WORDS} e pomodori", "Ravenna", "1", "2", PHONE, "1")


def leaks(records: Iterable[logging.LogRecord], *secrets: str) -> list[str]:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    found = []
    for record in records:
        if record.levelno < logging.INFO or record.name == "uvicorn.access":
            continue  # uvicorn.access: the fakes' own servers (Ascolto's web server logs at WARNING and up)
        line = formatter.format(record)
        found += [f"{secret!r} in {line[:300]!r}" for secret in secrets if secret in line]
    return found


async def test_a_whatsapp_conversation_logs_no_number_and_no_words(
    db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with rig_for(db_url, clock) as rig:
        for text in SCRIPT:
            assert (await rig.write(text, sender=WA_USER)).status_code == 200
        rig.fake.fail_next(500, 20500, f"Internal error sending to {WA_USER}")
        await rig.write("/miei", sender=WA_USER)
        rig.clock.advance(seconds=600)
        await rig.dispatcher.flush()
        rig.fake.fail_next(400, 21211, f"The 'To' number whatsapp:{WA_USER} is not a valid phone number.")
        await rig.write("/privacy", sender=WA_USER)
    assert any(r.levelno >= logging.INFO for r in caplog.records)
    assert leaks(caplog.records, WA_USER, WA_USER[1:], PHONE, WORDS) == []


async def test_a_telegram_conversation_logs_no_chat_id_and_no_words(
    db_url: str, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_telegram(db_url, fake) as tg:
        for text in SCRIPT:
            await tg.say(text, chat=TG_CHAT)
        fake.fail_next("sendMessage", 500)
        await tg.say("/miei", chat=TG_CHAT)
        fake.block_chat(TG_CHAT)
        await tg.say("/privacy", chat=TG_CHAT)
    assert any(r.levelno >= logging.INFO for r in caplog.records)
    assert leaks(caplog.records, str(TG_CHAT), PHONE, WORDS, fake.token) == []


class CrashingSender:
    """An adapter with a bug whose exception message names the recipient."""

    channel = "test"

    async def send(self, message: object) -> str | None:
        raise ValueError(f"cannot deliver to {getattr(message, 'recipient')}")


async def test_a_crashing_sender_or_chat_is_logged_by_outbox_id_not_recipient(
    core: Core, clock: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    await enqueue(core, clock, "uno", recipient=WA_USER)
    await core.dispatcher({"test": CrashingSender()}, clock=clock).flush()  # type: ignore[dict-item]

    called = asyncio.Event()

    async def broken_chat(self: Dispatcher, rows: list[object], *rest: object) -> int:
        called.set()
        raise RuntimeError(f"chat {getattr(rows[0], 'recipient')} broke")

    monkeypatch.setattr(Dispatcher, "_send_chat", broken_chat)
    clock.advance(seconds=3600)
    await enqueue(core, clock, "due", recipient=WA_USER)
    stop = asyncio.Event()
    running = asyncio.create_task(core.dispatcher({"test": CrashingSender()}, clock=clock).run_forever(stop))  # type: ignore[dict-item]
    await asyncio.wait_for(called.wait(), 10)
    stop.set()
    await running
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and leaks(caplog.records, WA_USER) == []
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)  # the traceback is still there, at DEBUG


async def test_sql_errors_and_the_engine_never_show_parameters(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert engine.echo is False
        sessions = session_factory(engine)
        with pytest.raises(IntegrityError) as failure:
            async with transaction(sessions) as session:  # the second row breaks the key (channel, external_id)
                session.add(Citizen(channel="x", external_id=WA_USER, created_at=START))
                session.add(Citizen(channel="x", external_id=WA_USER, created_at=START))
        text = str(failure.value)
        assert "[SQL parameters hidden due to hide_parameters=True]" in text and "[parameters:" not in text
        if engine.dialect.name == "sqlite":
            assert WA_USER not in text
        # PostgreSQL's own DETAIL line quotes a duplicate key; turns log such errors by class only.
    finally:
        await engine.dispose()
