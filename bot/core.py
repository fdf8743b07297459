"""What entry points share, built once by `bot.app.build_core` and passed down; nothing is rewired later."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.background import Background, Wakeups
from bot.clock import DatabaseClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.send import RetryPolicy
from bot.notify import Notifier
from bot.pacing import Replayer
from bot.pipeline import Pipeline
from bot.speech import Speech
from bot.voice import FetchAudio, Hearing, Transcriber, VoicePolicy
from conversations import Engine, Gazetteer, Translator
from handlers import Sender


@dataclass(slots=True)
class Services:
    """Database, texts, engine, clock and the after-commit plumbing: what jobs need (no pipeline)."""

    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    gazetteer: Gazetteer
    translator: Translator
    engine: Engine
    clock: Callable[[], datetime]
    notifier: Notifier
    """Alerts to admins, operators and the citizen behind a need (`bot.notify`)."""
    wakeups: Wakeups
    """Jobs and channels say here that they queued outbox rows or downloads."""
    background: Background

    def dispatcher(
        self, senders: Mapping[str, Sender], *, clock: Callable[[], datetime] | None = None, recipient: str | None = None
    ) -> Dispatcher:
        """Leases and due times on the database's clock: the core's own when it is one (`ascolto run`);
        tests that drive the pipeline with a fake clock still send on the real one, unless they pass theirs.
        `recipient`: only that person's messages (a console session)."""
        d = self.settings.dispatcher
        if clock is None:
            clock = self.clock if isinstance(self.clock, DatabaseClock) else DatabaseClock()
        return Dispatcher(
            self.sessions,
            senders,
            policy=RetryPolicy(
                max_attempts=d.max_attempts,
                base=d.backoff_base_seconds,
                cap=d.backoff_max_seconds,
                max_throttled_seconds=d.max_throttled_seconds,
            ),
            batch_size=d.batch_size,
            lease=timedelta(seconds=d.lease_seconds),
            idle_poll=d.idle_poll_seconds,
            clock=clock,
            wakeups=self.wakeups,
            recipient=recipient,
        )

    async def close(self) -> None:
        await self.db.dispose()


@dataclass(slots=True)
class Core(Services):
    """Services and the pipeline: what channels and the console need."""

    pipeline: Pipeline

    def replayer(self) -> Replayer:
        """Answers messages that waited for their sender's turn budget (`bot/pacing.py`)."""
        return Replayer(self.sessions, self.pipeline, self.pipeline.pacer.budget, clock=self.clock)

    def transcriber(self, fetchers: Mapping[str, FetchAudio], *, speech: Hearing | None = None) -> Transcriber:
        """Voice notes heard on this server (`[voice]`), their words handed to this pipeline; leases on the database's clock."""
        v = self.settings.voice
        if speech is None:
            speech = Speech(model_path=v.model_path, cache=v.cache_dir, cpu_threads=v.cpu_threads)
        clock = self.clock if isinstance(self.clock, DatabaseClock) else DatabaseClock()
        policy = VoicePolicy(audio_dir=v.audio_dir, max_seconds=v.max_seconds)
        return Transcriber(self.sessions, speech, self.pipeline.handle, fetchers, policy=policy, clock=clock)

    @classmethod
    def of(cls, services: Services, pipeline: Pipeline) -> Core:
        return cls(**{f.name: getattr(services, f.name) for f in fields(Services)}, pipeline=pipeline)
