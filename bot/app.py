"""The composition root: builds settings-derived objects once and passes plain values down."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import media
from bot.config import Settings
from bot.dispatcher import Dispatcher, RetryPolicy
from bot.notify import Recipient
from bot.operations import Admins, Operations
from bot.pipeline import Pipeline, PipelineConfig, utc_now
from bot.staff import StaffConfig, StaffOps
from conversations import Channel, Engine, Gazetteer, Translator, build_engine
from handlers import Sender
from storage import migrate
from storage.comuni import load_gazetteer
from storage.db import create_engine, is_sqlite, session_factory

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent.parent / "locales"


@dataclass(slots=True)
class Core:
    """What every entry point needs: database, texts, engine and pipeline."""

    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    gazetteer: Gazetteer
    translator: Translator
    engine: Engine
    pipeline: Pipeline

    def dispatcher(self, senders: Mapping[str, Sender], *, clock: Callable[[], datetime] = utc_now) -> Dispatcher:
        d = self.settings.dispatcher
        dispatcher = Dispatcher(
            self.sessions,
            senders,
            policy=RetryPolicy(max_attempts=d.max_attempts, base=d.backoff_base_seconds, cap=d.backoff_max_seconds),
            batch_size=d.batch_size,
            lease=timedelta(seconds=d.lease_seconds),
            idle_poll=d.idle_poll_seconds,
            clock=clock,
        )
        self.pipeline.on_commit = dispatcher.wake
        return dispatcher

    async def close(self) -> None:
        await self.db.dispose()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of an SQLite file (var/ on a fresh clone)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


async def build_core(settings: Settings, *, clock: Callable[[], datetime] = utc_now, migrate_now: bool | None = None) -> Core:
    ensure_sqlite_dir(settings.database.url)
    db = create_engine(settings.database.url, sqlite_synchronous=settings.database.sqlite_synchronous)
    gazetteer = load_gazetteer()
    translator = Translator(settings.app.locales_dir or LOCALES, timezone=settings.app.timezone)
    engine = build_engine(known_msgids=set(translator.msgids))
    should_migrate = settings.database.migrate_on_start if migrate_now is None else migrate_now
    if should_migrate:
        await migrate.upgrade(db, gazetteer)
    sessions = session_factory(db)
    pipeline = Pipeline(
        sessions,
        engine,
        translator,
        gazetteer,
        PipelineConfig(
            idle_timeout=timedelta(minutes=settings.conversation.idle_timeout_minutes),
            default_language=settings.app.language,
            controller=settings.privacy.controller,
            retention_days=settings.privacy.retention_days,
            notice_version=settings.privacy.notice_version,
            fetch_media_channels=frozenset(c.value for c in Channel if c.traits.media_by_url) if settings.whatsapp.download_media else frozenset(),
        ),
        clock=clock,
        operations=Operations(translator, admins_from(settings), page_size=settings.operators.page_size),
        staff=StaffOps(
            translator,
            StaffConfig(
                admins=frozenset((r.channel, r.external_id) for r in admins_from(settings).recipients),
                export_dir=settings.admin.export_dir,
                invite_days=settings.operators.invite_days,
            ),
        ),
    )
    core = Core(settings, db, sessions, gazetteer, translator, engine, pipeline)
    from bot import jobs  # jobs needs Core: imported here to avoid an import cycle

    pipeline.send_digest = lambda cooperative_id, now: jobs.send_digest_now(core, cooperative_id, now)
    pipeline.sweep_media = lambda: media.sweep(sessions, settings.whatsapp.media_dir)
    return core


def admins_from(settings: Settings) -> Admins:
    """The admins of `[admin]`, one recipient per channel identity, written to in the default language."""
    a, lang = settings.admin, settings.app.language
    return Admins(
        tuple(Recipient(Channel.TELEGRAM, str(i), lang) for i in a.telegram_ids)
        + tuple(Recipient(Channel.WHATSAPP, n, lang) for n in a.whatsapp_numbers)
        + tuple(Recipient(Channel.CONSOLE, n, lang) for n in a.console_names)
    )
