"""The composition root: builds settings-derived objects once and passes plain values down."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import exports, media
from bot.background import Background, Wakeups
from bot.clock import DatabaseClock
from bot.config import Settings
from bot.core import Core, Services
from bot.effects import Wiring, build_registry
from bot.jobs.digest import send_digest_now
from bot.notify import Admins, Notifier, Recipient
from bot.pacing import Pacer, TurnBudget
from bot.categories import CategoryCache
from bot.pipeline import Pipeline, PipelineConfig
from bot.reads import Reader
from bot.roles import Roles
from bot.suggest import LanguageDetector, Suggester
from conversations import Channel, Translator, build_engine
from storage import migrate
from storage.comuni import load_gazetteer
from storage.db import create_engine, is_sqlite, session_factory

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of an SQLite file (var/ on a fresh clone)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


async def build_core(settings: Settings, *, clock: Callable[[], datetime] | None = None, migrate_now: bool | None = None) -> Core:
    """Everything an entry point needs; `clock` (tests) is the time for everything, otherwise this
    host's clock set to the database's (`DatabaseClock`), synced here and at every outbox claim."""
    ensure_sqlite_dir(settings.database.url)
    db = create_engine(settings.database.url, sqlite_synchronous=settings.database.sqlite_synchronous, group_commit=True)
    gazetteer = load_gazetteer()
    translator = Translator(settings.app.locales_dir or LOCALES, timezone=settings.app.timezone)
    engine = build_engine(known_msgids=set(translator.msgids))
    should_migrate = settings.database.migrate_on_start if migrate_now is None else migrate_now
    if should_migrate:
        await migrate.upgrade(db, gazetteer)
    sessions = session_factory(db)
    if clock is None:
        clock = await synced_clock(sessions)
    admins = admins_from(settings)
    roles = Roles(frozenset((r.channel, r.external_id) for r in admins.recipients))
    notifier = Notifier(translator, admins)
    background, wakeups, categories = Background(), Wakeups(), CategoryCache()
    services = Services(settings, db, sessions, gazetteer, translator, engine, clock, notifier, wakeups, background)
    registry = build_registry(
        Wiring(
            notifier=notifier,
            roles=roles,
            background=background,
            fetch_media=frozenset(c.value for c in Channel if c.traits.media_by_url) if settings.whatsapp.download_media else frozenset(),
            wake_media=wakeups.media,
            wake_voice=wakeups.voice,
            sweep_media=functools.partial(media.sweep, sessions, settings.whatsapp.media_dir),
            forget_exports=functools.partial(exports.forget, settings.admin.export_dir),
            categories_changed=categories.forget,
            send_digest=functools.partial(send_digest_now, services),
            invite_days=settings.operators.invite_days,
            export_dir=settings.admin.export_dir,
        )
    )
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
            attachments_per_need=settings.limits.attachments_per_need,
            needs_per_day=settings.limits.needs_per_day,
            listens=frozenset({Channel.TELEGRAM.value, Channel.WHATSAPP.value}) if settings.voice.enabled else frozenset(),
        ),
        registry=registry,
        reader=Reader(
            roles,
            page_size=settings.operators.page_size,
            invite_attempts=settings.operators.invite_attempts_per_hour,
            digest_pause=timedelta(minutes=settings.scheduler.digest_repeat_minutes),
        ),
        categories=categories,
        wakeups=wakeups,
        background=background,
        clock=clock,
        pacer=Pacer(turn_budget(settings), translator),
        suggester=Suggester(),  # the models load on first use, once per process
        detector=LanguageDetector(),
    )
    return Core.of(services, pipeline)


def turn_budget(settings: Settings) -> TurnBudget:
    return TurnBudget(per_minute=settings.limits.turns_per_minute, burst=settings.limits.turn_burst)


async def synced_clock(sessions: async_sessionmaker[AsyncSession]) -> DatabaseClock:
    """This host's clock set to the database's; if the database cannot be reached yet, the first claim sets it."""
    clock = DatabaseClock()
    try:
        async with sessions() as session:
            await clock.sync(session)
    except Exception as exc:  # start anyway: the outage is the health check's and the retries' business
        logger.warning("clock not set to the database's yet (%s): the first claim will", type(exc).__name__)
    return clock


def admins_from(settings: Settings) -> Admins:
    """The admins of `[admin]`, one recipient per channel identity, written to in the default language."""
    a, lang = settings.admin, settings.app.language
    return Admins(
        tuple(Recipient(Channel.TELEGRAM, str(i), lang) for i in a.telegram_ids)
        + tuple(Recipient(Channel.WHATSAPP, n, lang) for n in a.whatsapp_numbers)
        + tuple(Recipient(Channel.CONSOLE, n, lang) for n in a.console_names)
    )
