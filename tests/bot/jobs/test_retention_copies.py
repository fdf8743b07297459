"""Issue 13: retention of the copies a need leaves behind: message texts, abandoned conversations, files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

import pytest

from bot.app import build_core
from bot.config import AdminSettings, SchedulerSettings, WhatsAppSettings
from bot.core import Core
from bot.jobs.retention import apply_retention, delete_old_files
from conversations import Inbound
from storage import outbox
from storage.db import transaction
from storage.models import AuditLog, Conversation, OutboxMessage
from tests.bot.test_pipeline import RecordingSender
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.entropy import seeded

DAY = timedelta(days=1)


@pytest.fixture
async def core(db_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    """Retention deletes files: its folders here are the test's own, never the working copy's var/."""
    settings = make_settings(
        db_url,
        admin=AdminSettings(export_dir=tmp_path / "exports"),
        scheduler=SchedulerSettings(digest_dir=tmp_path / "digests"),
        whatsapp=WhatsAppSettings(media_dir=tmp_path / "media"),
    )
    built = await build_core(settings, clock=clock)
    built.pipeline.entropy = seeded()
    try:
        yield built
    finally:
        await built.close()


async def texts(core: Core) -> dict[str, str]:
    async with core.sessions() as session:
        rows = await session.execute(select(OutboxMessage.status, OutboxMessage.text).order_by(OutboxMessage.id))
        return {f"{i}:{status}": text for i, (status, text) in enumerate(rows.all())}


async def test_messages_lose_their_text_after_outbox_text_days_but_waiting_ones_never(core: Core, clock: FakeClock) -> None:
    start = clock.now
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="Riepilogo: zucchine, +393331234567", now=start)
    await core.dispatcher({"test": RecordingSender()}, clock=clock).flush()
    async with transaction(core.sessions) as session:  # due in a year: still waiting when retention runs
        row = await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="Promemoria zucchine", now=start)
        row.next_attempt_at = start + 400 * DAY
    await apply_retention(core, start + 30 * DAY - timedelta(seconds=1))
    assert list((await texts(core)).values()) == ["Riepilogo: zucchine, +393331234567", "Promemoria zucchine"]
    await apply_retention(core, start + 30 * DAY + timedelta(seconds=1))
    assert await texts(core) == {"0:sent": "[scaduto]", "1:pending": "Promemoria zucchine"}
    async with core.sessions() as session:
        details = (await session.execute(select(AuditLog.detail).where(AuditLog.action == "personal_data_expired"))).scalars().all()
    assert details == ["messages=1 conversations=0 files=0"]


async def test_an_abandoned_conversation_loses_its_answers_after_the_idle_timeout_and_a_grace(core: Core, clock: FakeClock) -> None:
    for n, text in enumerate(("ciao", "1", "1", "5", "Mi servono zucchine", "Ravenna", "1", "2", "3331234567")):
        clock.advance(seconds=5)
        await core.pipeline.handle(Inbound(channel="test", external_id=f"a{n}", sender="anna", received_at=clock.now, text=text))
    left = clock.now
    async with core.sessions() as session:
        before = (await session.execute(select(Conversation))).scalar_one()
    assert "zucchine" in str(before.answers)
    await apply_retention(core, left + 2 * DAY - timedelta(seconds=1))  # idle timeout 1 day + grace 1 day
    async with core.sessions() as session:
        assert "zucchine" in str((await session.execute(select(Conversation))).scalar_one().answers)
    await apply_retention(core, left + 2 * DAY + timedelta(seconds=1))
    async with core.sessions() as session:
        after = (await session.execute(select(Conversation))).scalar_one()
    assert (after.answers, after.history, after.version) == ({}, [], before.version + 1)
    clock.now = left + 3 * DAY
    await core.pipeline.handle(Inbound(channel="test", external_id="back", sender="anna", received_at=clock.now, text="ciao"))
    async with core.sessions() as session:
        last = (await session.execute(select(OutboxMessage.text).order_by(OutboxMessage.id.desc()).limit(3))).scalars().all()  # type: ignore[union-attr]
    assert any("ho chiuso la conversazione di prima" in t for t in last)  # told politely, as after any idle timeout


def test_old_exports_and_charts_go_unless_a_waiting_message_carries_them(tmp_path: Path) -> None:
    exports, charts = tmp_path / "exports", tmp_path / "digests"
    exports.mkdir()
    charts.mkdir()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    old, recent = (now - 8 * DAY).timestamp(), (now - 6 * DAY).timestamp()
    made = {
        exports / "richieste-tutte-20261101-20261108-20261108T100000-3.csv": old,
        exports / "richieste-tutte-20261101-20261108-20261108T100000-3.xlsx": old,
        exports / "richieste-coop1-20261101-20261108-20261108T110000-4.csv": old,  # still waiting to be sent
        exports / "richieste-coop1-20261120-20261127-20261127T100000-4.csv": recent,
        charts / "cantiere-20261102T0800.png": old,
        exports / "notes.txt": old,  # not ours: never touched
    }
    for path, mtime in made.items():
        path.write_text("x")
        os.utime(path, (mtime, mtime))
    waiting = {str(exports / "richieste-coop1-20261101-20261108-20261108T110000-4.csv")}
    assert delete_old_files((exports, charts, tmp_path / "missing"), older_than=now - 7 * DAY, keep=waiting) == 3
    assert sorted(p.name for p in (*exports.iterdir(), *charts.iterdir())) == [
        "notes.txt",
        "richieste-coop1-20261101-20261108-20261108T110000-4.csv",
        "richieste-coop1-20261120-20261127-20261127T100000-4.csv",
    ]
