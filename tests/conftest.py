"""Shared fixtures: real gazetteer and catalogs, and databases on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from pathlib import Path

import pytest

# PTB 22 warns when RetryAfter.retry_after is read as an int; with filterwarnings=error that
# warning would replace the exception. Opt in to timedelta, as production does (bot/cli/main.py).
os.environ.setdefault("PTB_TIMEDELTA", "true")
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_core
from bot.core import Core
from bot.config import DatabaseSettings, Settings, WhatsAppSettings
from conversations import Category, Context, Engine, Gazetteer, Translator, build_engine
from storage import migrate
from storage.comuni import load_gazetteer
from storage.db import create_engine
from tests.helpers.clock import START, FakeClock
from tests.helpers.entropy import seeded
from tests.helpers.transcript import Chat

if TYPE_CHECKING:
    from tests.fakes.twilio_api import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
PG_HOST = os.environ.get("ASCOLTO_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ASCOLTO_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"
MUTABLE_TABLES = (
    "demand_month",
    "demand_duration",
    "demand_refresh",
    "staff_role",
    "audit_log",
    "digest_run",
    "follow_up",
    "need_note",
    "need_assignment",
    "invite",
    "operator",
    "cooperative_territory",
    "cooperative_category",
    "cooperative",
    "need_attachment",
    "need_status_change",
    "need",
    "outbox",
    "broadcast",
    "dead_letter",
    "inbound_event",
    "deferred_inbound",
    "conversation",
    "citizen",
)

CATEGORIES = (
    Category("anziani", "Assistenza domiciliare e anziani", ("anziani",)),
    Category("disabilita", "Disabilità", ("disabilita",)),
    Category("famiglia", "Famiglia e infanzia", ("famiglia",)),
    Category("salute", "Salute, farmaci e dispositivi", ("salute",)),
    Category("spesa", "Spesa e beni di prima necessità", ("spesa",)),
    Category("casa", "Casa e abitare", ("casa",)),
    Category("lavoro", "Lavoro e formazione", ("lavoro",)),
    Category("solitudine", "Solitudine e compagnia", ("solitudine",)),
    Category("trasporto", "Trasporto e accompagnamento", ("trasporto",)),
    Category("altro", "Altro", ("altro",)),
)


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.fixture(scope="session")
def translator() -> Translator:
    return Translator(LOCALES)


@pytest.fixture(scope="session")
def engine(translator: Translator) -> Engine:
    return build_engine(known_msgids=set(translator.msgids))


@pytest.fixture
def ctx(gazetteer: Gazetteer) -> Context:
    return Context(
        now=START,
        gazetteer=gazetteer,
        categories=CATEGORIES,
        new_id="0" * 32,
        ticket="K7M-R4P",
        controller="Cooperativa Esempio",
        retention_days=365,
    )


@pytest.fixture
def chat(engine: Engine, ctx: Context) -> Chat:
    return Chat(engine, ctx, FakeClock(START))


# --- databases -------------------------------------------------------------


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


async def _migrate(url: str, gazetteer: Gazetteer) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, gazetteer)
    finally:
        await engine.dispose()


async def _admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Path:
    """One migrated SQLite file per run; each test gets a copy (migrating 7,900 comuni once)."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}", gazetteer))
    return path


@pytest.fixture(scope="session")
def postgres_database(gazetteer: Gazetteer) -> Iterator[str]:
    """A database of our own for this run, dropped at the end: nothing is left behind."""
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    name = f"ascolto_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        asyncio.run(_migrate(url, gazetteer))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ascolto.sqlite3"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_admin_truncate(url))
    return url


async def _admin_truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
            # Admins change categories from the chat: put the seeded ones back as the migration wrote them.
            seed = importlib.import_module("storage.migrations.versions.0001_create_core_tables").CATEGORIES
            await conn.execute(text("DELETE FROM category WHERE NOT (slug = ANY(:slugs))"), {"slugs": [s for s, _, _ in seed]})
            for position, (slug, name_it, name_en) in enumerate(seed, start=1):
                await conn.execute(
                    text("UPDATE category SET name_it = :it, name_en = :en, position = :p, is_active = true WHERE slug = :s"),
                    {"it": name_it, "en": name_en, "p": position, "s": slug},
                )
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "ascolto.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def make_settings(url: str, **sections: object) -> Settings:
    return Settings(database=DatabaseSettings(url=url, migrate_on_start=False), **sections)  # type: ignore[arg-type]


def whatsapp_settings(fake: FakeTwilio, public_base_url: str, **extra: Any) -> WhatsAppSettings:
    """``[whatsapp]`` talking to a FakeTwilio (its account, sender and REST URL); `extra` sets the rest."""
    return WhatsAppSettings(
        account_sid=fake.account_sid,
        auth_token=fake.auth_token,
        from_number=fake.sender,
        public_base_url=public_base_url,
        api_base_url=fake.base_url,
        **extra,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def core(db_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    built = await build_core(make_settings(db_url), clock=clock)
    built.pipeline.entropy = seeded()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def db(core: Core) -> AsyncEngine:
    return core.db
