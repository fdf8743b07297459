"""Issue 13: nothing a citizen told us outlives its time, in any table or file.

One scenario, with Hypothesis drawing the citizen's words, phone and position: an intake with a
shared position, an operator's claim, note and status note, the detail view, an admin's export
with personal fields, and a second citizen who abandons an intake after giving description and
phone; every message dispatched. Then either retention runs at T + the longest period, or the
first citizen erases their data; after it a full dump of the database (every table, every
column, SQLite and PostgreSQL) and every file under the configured var/ folders hold none of it.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import build_core
from bot.config import AdminSettings, SchedulerSettings, Settings, WhatsAppSettings
from bot.core import Core
from bot.jobs.retention import apply_retention
from conversations import Inbound, Location
from storage.models import Need
from tests.bot.test_pipeline import RecordingSender
from tests.conftest import _admin_truncate, make_settings
from tests.helpers import dump
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator
from tests.helpers.entropy import seeded

WORD = st.text(alphabet=string.ascii_lowercase, min_size=6, max_size=10)
MOBILE = st.builds(lambda p, n: p + n, st.sampled_from(("320", "328", "333", "338", "340", "347", "349", "366", "380", "393")),
                   st.text(alphabet=string.digits, min_size=7, max_size=7)).filter(
    lambda n: phonenumbers.is_valid_number(phonenumbers.parse(n, "IT")))
COORD = st.integers(min_value=10_000, max_value=99_999)


@dataclass(frozen=True)
class Told:
    """What the citizens told us: the needles of the search."""

    words: tuple[str, str]
    note: str
    status_note: str
    phone: str
    lat: float
    lon: float
    abandoned_words: str
    abandoned_phone: str

    def first(self) -> tuple[str, ...]:
        return (*self.words, self.note, self.status_note, self.phone, f"{self.lat:.5f}", f"{self.lon:.5f}",
                f"{self.lat:.5f}".replace(".", ","))

    def second(self) -> tuple[str, ...]:
        return (self.abandoned_words, self.abandoned_phone)


TOLD = st.builds(
    # Each word gets its own tag ("qz1…"), so no needle is part of another, of a catalog text or of a category name.
    lambda w, n, s, p, la, lo, aw, ap: Told(
        (f"qz1{w[0]}", f"qz2{w[1]}"), f"qz3{n}", f"qz4{s}", p, 44 + la / 100_000, 12 + lo / 100_000, f"qz5{aw}", ap
    ),
    st.tuples(WORD, WORD), WORD, WORD, MOBILE, COORD, COORD, WORD, MOBILE,
).filter(lambda t: t.phone != t.abandoned_phone)


class Scene:
    def __init__(self, core: Core, clock: FakeClock, var: Path) -> None:
        self.core, self.clock, self.var = core, clock, var
        self.ids = itertools.count()
        self.sender = RecordingSender()
        self.sender.channel = "console"

    async def say(self, who: str, text: str | None = None, *, location: Location | None = None) -> None:
        self.clock.advance(seconds=5)
        await self.core.pipeline.handle(
            Inbound(channel="console", external_id=f"e{next(self.ids)}", sender=who, received_at=self.clock.now, text=text, location=location)
        )

    async def flush(self) -> None:
        await self.core.pipeline.drain()
        await self.core.dispatcher({"console": self.sender}, clock=self.clock).flush()

    def folders(self) -> list[Path]:
        s = self.core.settings
        return [s.admin.export_dir, s.scheduler.digest_dir, s.whatsapp.media_dir]

    async def everything(self) -> dict[str, str]:
        return await dump.database(self.core.db) | dump.files(self.folders())


async def play(scene: Scene, told: Told, citizen: str) -> None:
    coop = await add_coop(scene.core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(scene.core, coop, "lucia", channel="console")
    for text in ("ciao", "1", "1", "5", f"Mi servono {told.words[0]} e {told.words[1]}"):
        await scene.say(citizen, text)
    await scene.say(citizen, location=Location(told.lat, told.lon))
    for text in ("Ravenna", "1", "2", told.phone, "1"):
        await scene.say(citizen, text)
    async with scene.core.sessions() as session:
        need = (await session.execute(select(Need))).scalar_one()
    assert need.latitude == told.lat and need.contact_phone and need.contact_phone.endswith(told.phone)
    for text in (f"/prendo {need.ticket}", f"/nota {need.ticket} ho parlato con {told.note}",
                 f"/stato {need.ticket} in corso {told.status_note}", f"/scrivi {need.ticket} Passo io, {told.note}?"):
        await scene.say("lucia", text)
    await scene.say(citizen, f"Sì, suonate a {told.words[1]}")  # the thread (issue 15): kept with the need, then gone
    for text in (f"/richiesta {need.ticket}", f"/stato {need.ticket} risolta"):
        await scene.say("lucia", text)
    await scene.say("boss", "/esporta 7g")
    await scene.say("boss", "sì")
    for text in ("ciao", "1", "1", "5", f"Aiuto con {told.abandoned_words}", "Ravenna", "1", "2", told.abandoned_phone):
        await scene.say("bruno", text)  # ...and never confirms
    await scene.flush()
    everything = await scene.everything()
    # The scene really spread the words: in outbox texts, notes, the thread, the conversation and the export files.
    assert dump.holding(everything, told.first()) and dump.holding(everything, told.second())
    assert told.words[1] in everything["need_message"]
    assert any(told.words[0] in text for path, text in everything.items() if path.endswith(".csv"))


def _database(kind: str, request: pytest.FixtureRequest) -> str:
    """The migrated template (SQLite) or this run's database (PostgreSQL); resolved outside any event loop."""
    if kind == "sqlite":
        return str(request.getfixturevalue("sqlite_template"))
    return str(request.getfixturevalue("postgres_database"))


async def _fresh_url(kind: str, database: str, tmp: Path) -> str:
    if kind == "sqlite":
        path = tmp / "ascolto.sqlite3"
        shutil.copy(database, path)
        return f"sqlite+aiosqlite:///{path}"
    await _admin_truncate(database)
    return database


def _settings(url: str, var: Path) -> Settings:
    return make_settings(
        url,
        admin=AdminSettings(console_names=["boss"], export_dir=var / "exports"),
        scheduler=SchedulerSettings(digest_dir=var / "digests"),
        whatsapp=WhatsAppSettings(media_dir=var / "media"),
    )


async def _run(kind: str, database: str, base: Path, told: Told, *, erase: bool) -> None:
    tmp = base / uuid.uuid4().hex
    tmp.mkdir()
    # The clock starts at the real time: files on disk carry real times, and retention compares them with `now`.
    clock = FakeClock(datetime.now(UTC))
    core = await build_core(_settings(await _fresh_url(kind, database, tmp), tmp / "var"), clock=clock)
    core.pipeline.entropy = seeded()
    try:
        scene = Scene(core, clock, tmp / "var")
        citizen = f"c-{uuid.uuid4().hex[:10]}"
        await play(scene, told, citizen)
        if erase:
            await scene.say(citizen, "/cancella_dati")
            await scene.say(citizen, "sì")
            await scene.flush()  # the last message goes, then the chat id becomes a pseudonym
            assert dump.holding(await scene.everything(), (*told.first(), citizen)) == []
            assert dump.holding(await scene.everything(), told.second())  # the other citizen is not erased
            return
        p = core.settings.privacy
        longest = max(timedelta(days=p.retention_days), timedelta(days=p.outbox_text_days), timedelta(days=p.files_days))
        await apply_retention(core, clock.advance(seconds=longest.total_seconds() + 86_400))
        assert dump.holding(await scene.everything(), (*told.first(), *told.second())) == []
    finally:
        await core.close()


KINDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
@SLOW
@given(told=TOLD)
def test_after_retention_nothing_told_is_left_anywhere(kind: str, request: pytest.FixtureRequest, tmp_path: Path, told: Told) -> None:
    asyncio.run(_run(kind, _database(kind, request), tmp_path, told, erase=False))


@pytest.mark.parametrize("kind", KINDS)
@SLOW
@given(told=TOLD)
def test_after_erasure_nothing_told_is_left_anywhere_at_once(kind: str, request: pytest.FixtureRequest, tmp_path: Path, told: Told) -> None:
    asyncio.run(_run(kind, _database(kind, request), tmp_path, told, erase=True))
