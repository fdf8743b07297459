"""`ascolto chat` as one person: only their messages, the others' wait for their own session; nothing a turn started is lost."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

import pytest

from bot.app import build_core
from bot.background import Background
from bot.channels.console import chat
from bot.config import AdminSettings
from bot.core import Core
from bot.jobs.digest import DigestResult, send_digest_now
from bot.core import Services
from tests.bot.test_operators import outbox_to, the_need
from tests.bot.test_pipeline import INTAKE
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator


async def talk(core: Core, name: str, lines: str = "") -> str:
    """A piped session of `name`: what it printed (messages that waited for them first, then the answers)."""
    out = io.StringIO()
    assert await chat(core, name=name, stdin=io.StringIO(lines), stdout=out, interactive=False) == 0
    return out.getvalue()


async def test_each_console_shows_only_its_own_persons_messages(core: Core) -> None:
    """An operator's alert used to print in the citizen's console, and the citizen's news in the operator's."""
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia", channel="console")
    anna = await talk(core, "anna", "\n".join(INTAKE) + "\n")
    t = (await the_need(core)).ticket
    assert f"Il tuo codice è {t}" in anna
    assert "Nuova richiesta" not in anna

    lucia = await talk(core, "lucia", f"/richiesta {t}\n1\n")
    assert lucia.index(f"Nuova richiesta {t}") < lucia.index(f"Richiesta {t}\n")  # it waited for her, shown first
    assert "1. Prendo in carico\n2. Non di nostra competenza" in lucia
    assert f"Fatto: {t} è vostra" in lucia  # "1" on a channel without buttons (issue 15, part 5)
    assert "Il tuo codice" not in lucia and "Ti contatteranno presto" not in lucia

    anna = await talk(core, "anna")
    assert f"la tua richiesta {t} è stata presa in carico da Il Cantiere" in anna
    assert "Fatto:" not in anna
    assert await talk(core, "lucia") == ""  # nothing shown twice


async def test_a_piped_console_waits_for_the_digest_it_asked_for(db_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """/digest_ora as the last line: the console left before the digest was written, and it was lost (2 times in 5)."""

    async def slow(services: Services, cooperative_id: int, now: datetime) -> DigestResult:
        await asyncio.sleep(0.5)  # a chart to draw: the digest is written well after the turn's reply
        return await send_digest_now(services, cooperative_id, now)

    monkeypatch.setattr("bot.app.send_digest_now", slow)
    core = await build_core(make_settings(db_url, admin=AdminSettings(console_names=["ada"])), clock=clock)
    try:
        coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
        await add_operator(core, coop, "lucia", channel="console")
        ada = await talk(core, "ada", "/digest_ora cantiere\n")
        assert "Preparo il riepilogo" in ada and "Riepilogo di" not in ada  # the digest is the operators'
        assert any(text.startswith("Riepilogo di Il Cantiere") for text in await outbox_to(core, "lucia"))
        assert "Riepilogo di Il Cantiere" in await talk(core, "lucia")
    finally:
        await core.close()


async def test_waiting_for_work_after_a_commit_is_bounded_and_cancels_nothing() -> None:
    background = Background()
    background.spawn(asyncio.sleep(10))
    assert await background.drain(timeout=0.05) is False
    task = next(iter(background._tasks))
    assert not task.cancelled()
    task.cancel()
    assert await background.drain(timeout=1) is True
