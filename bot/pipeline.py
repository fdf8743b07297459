"""The pipeline: one inbound, one transaction — dedup, state, step, effects, replies into the outbox."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations import (
    Category,
    ConsentGiven,
    Context,
    DataErasureRequested,
    DigestRequested,
    Effect,
    Engine,
    Gazetteer,
    Inbound,
    NeedCreated,
    OptedIn,
    OptedOut,
    NeedSummary,
    Translator,
    Turn,
    make_ticket,
)
from bot.operations import Conflict, Operations
from bot.staff import CATEGORY_EFFECTS, StaffOps
from handlers import render_numbered, split_text, text_limit
from storage import conversations, inbound, needs, outbox, reference
from storage.db import transaction
from storage.models import Citizen

logger = logging.getLogger(__name__)

MAX_TICKET_DRAWS: Final = 5
CATEGORY_CACHE_SECONDS: Final = 5.0
MIN_PART_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class CategoryNames:
    """A category's names, cached between messages."""

    slug: str
    name_it: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_it


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of an inbound: `duplicate` when it had been accepted before."""

    duplicate: bool
    replies: int = 0
    citizen_id: int | None = None


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    idle_timeout: timedelta = timedelta(hours=24)
    default_language: str = "it"
    controller: str = ""
    retention_days: int = 365
    notice_version: int = 1
    fetch_media_channels: frozenset[str] = frozenset()
    """Channels whose media are downloaded after the commit (``[whatsapp] download_media``)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """The only place that opens a transaction for an inbound message."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: Engine,
        translator: Translator,
        gazetteer: Gazetteer,
        config: PipelineConfig = PipelineConfig(),
        *,
        clock: Callable[[], datetime] = utc_now,
        entropy: Callable[[int], bytes] = os.urandom,
        on_commit: Callable[[], None] | None = None,
        operations: Operations | None = None,
        staff: StaffOps | None = None,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.translator = translator
        self.gazetteer = gazetteer
        self.config = config
        self.clock = clock
        self.entropy = entropy
        self.on_commit = on_commit
        self._categories: tuple[float, Sequence[CategoryNames] | None] = (0.0, None)
        self.operations = operations or Operations(translator)
        self.staff = staff or StaffOps(translator)
        self.send_digest: Callable[[int, datetime], Awaitable[object]] | None = None
        """`/digest_ora`: set by the composition root (`bot.jobs.send_digest_now`); it opens its own transaction."""
        self.on_media: Callable[[], None] | None = None
        """Wakes the media fetcher after a commit that queued downloads (`bot.media`)."""
        self.sweep_media: Callable[[], Awaitable[object]] | None = None
        """Deletes downloaded copies an erasure left without a row; run in the background after the commit."""
        self._background: set[asyncio.Task[object]] = set()

    async def handle(self, event: Inbound) -> Handled:
        """Apply one inbound exactly once; raises only if the database fails (then nothing was written)."""
        for _ in range(MAX_TICKET_DRAWS):
            after: list[Callable[[], None]] = []
            try:
                async with transaction(self.sessions) as session:
                    result = await self._apply(session, event, after)
            except needs.TicketTaken:
                logger.warning("ticket collision, drawing again")
                continue
            except (Conflict, conversations.StaleConversation) as exc:  # raced another turn: replay on fresh data
                logger.info("turn replayed: %s", exc)
                continue
            if not result.duplicate and self.on_commit is not None:
                self.on_commit()
            for hook in after:  # only what this committed turn asked for
                hook()
            return result
        raise RuntimeError("could not draw a free ticket code")

    async def _apply(self, session: AsyncSession, event: Inbound, after: list[Callable[[], None]]) -> Handled:
        now = self.clock()
        citizen, state = await conversations.with_citizen(
            session,
            channel=event.channel,
            external_id=event.sender,
            now=now,
            language=self.config.default_language,
        )
        assert citizen.id is not None
        is_new = await inbound.record(
            session, channel=event.channel, external_id=event.external_id, citizen_id=citizen.id, at=now
        )
        if not is_new:
            logger.info("duplicate inbound %s/%s dropped", event.channel, event.external_id)
            return Handled(duplicate=True, citizen_id=citizen.id)
        ctx = await self._context(session, citizen, now)
        ctx = replace(
            ctx,
            desk=await self.operations.load_desk(session, event=event),
            staff=await self.staff.load(session, event=event, state=state, now=now),
        )
        if citizen.erased_at is not None:  # erased, and writing again before the pseudonym landed: a fresh start
            citizen.erased_at = None
        turn = self.engine.step(state, event, ctx)
        await conversations.save(session, citizen_id=citizen.id, state=turn.state, read_version=state.version)
        for effect in turn.effects:
            if isinstance(effect, DigestRequested):
                if await self.staff.request_digest(session, citizen=citizen, effect=effect, now=now):
                    after.append(functools.partial(self._start_digest, effect.cooperative_id, effect.at))
                continue
            await self._apply_effect(session, citizen, effect)
            if isinstance(effect, CATEGORY_EFFECTS):
                after.append(self.forget_categories)
            elif isinstance(effect, NeedCreated) and effect.media and citizen.channel in self.config.fetch_media_channels:
                after.append(self._media_queued)
            elif isinstance(effect, DataErasureRequested):
                after.append(self._start_sweep)
        citizen.last_inbound_at = now
        citizen.is_unreachable = False
        await self._enqueue(session, citizen, turn, now)
        return Handled(duplicate=False, replies=len(turn.replies), citizen_id=citizen.id)

    async def _active_categories(self, session: AsyncSession) -> Sequence[CategoryNames]:
        """The categories, re-read at most every CATEGORY_CACHE_SECONDS (they change rarely, by admins)."""
        loaded_at, rows = self._categories
        if rows is None or time.monotonic() - loaded_at > CATEGORY_CACHE_SECONDS:
            # Plain values, not ORM rows: a rolled-back transaction expires its instances.
            rows = tuple(
                CategoryNames(c.slug, c.name_it, c.name_en) for c in await reference.active_categories(session)
            )
            self._categories = (time.monotonic(), rows)
        return rows

    def forget_categories(self) -> None:
        """Called after an admin changes categories, so this process sees it at once."""
        self._categories = (0.0, None)

    def _start_digest(self, cooperative_id: int, now: datetime) -> None:
        """Run `/digest_ora` after the commit, in the background: the digest opens its own transaction."""
        if self.send_digest is None:
            logger.warning("digest for cooperative %s requested, but no digest sender is wired", cooperative_id)
            return
        task: asyncio.Task[object] = asyncio.ensure_future(self.send_digest(cooperative_id, now))
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _media_queued(self) -> None:
        # Downloads never run inside the webhook's transaction: Twilio gets its answer first.
        if self.on_media is not None:
            self.on_media()

    def _start_sweep(self) -> None:
        """After an erasure commits, its downloaded media go too (the rows naming them are already gone)."""
        if self.sweep_media is None:
            return
        task: asyncio.Task[object] = asyncio.ensure_future(self.sweep_media())
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background work after a commit failed: %s", type(task.exception()).__name__)

    async def drain(self) -> None:
        """Wait for the work started after commits (on-demand digests, media sweeps): tests and shutdown."""
        while self._background:
            await asyncio.gather(*tuple(self._background), return_exceptions=True)

    async def _context(self, session: AsyncSession, citizen: Citizen, now: datetime) -> Context:
        assert citizen.id is not None
        language = citizen.language
        categories = tuple(
            Category(slug=c.slug, label=c.name(language), aliases=(c.slug, c.name_it, c.name_en))
            for c in await self._active_categories(session)
        )
        labels = {c.slug: c.label for c in categories}
        mine = tuple(
            NeedSummary(
                ticket=n.ticket,
                category_label=labels.get(n.category_slug, n.category_slug),
                status=n.status,
                created_at=n.created_at,
            )
            for n in await needs.summaries_of_citizen(session, citizen_id=citizen.id)
        )
        return Context(
            now=now,
            gazetteer=self.gazetteer,
            categories=categories,
            new_id=uuid.UUID(bytes=self.entropy(16)).hex,
            ticket=make_ticket(self.entropy(8)),
            has_consent=(citizen.consent_version or 0) >= self.config.notice_version,
            needs=mine,
            idle_timeout=self.config.idle_timeout,
            notice_version=self.config.notice_version,
            controller=self.config.controller,
            retention_days=self.config.retention_days,
            is_opted_out=citizen.opted_out_at is not None,
        )

    async def _apply_effect(self, session: AsyncSession, citizen: Citizen, effect: Effect) -> None:
        assert citizen.id is not None
        if isinstance(effect, NeedCreated):
            fetch = citizen.channel in self.config.fetch_media_channels
            await needs.create(session, citizen_id=citizen.id, need=effect, fetch_media=fetch)
            logger.info("need %s created for citizen %s", effect.need_id, citizen.id)
            await self.operations.route(session, need=effect)
        elif await self.operations.apply(session, citizen=citizen, effect=effect, now=self.clock()):
            pass
        elif await self.staff.apply(session, citizen=citizen, effect=effect, now=self.clock()):
            pass
        elif isinstance(effect, OptedOut):
            citizen.opted_out_at = effect.at
            logger.info("citizen %s opted out", citizen.id)
        elif isinstance(effect, OptedIn):
            citizen.opted_out_at = None
            logger.info("citizen %s opted back in", citizen.id)
        elif isinstance(effect, ConsentGiven):
            citizen.consent_version = effect.notice_version
            citizen.consent_at = effect.at
        else:
            logger.info("effect %s for citizen %s", type(effect).__name__, citizen.id)

    async def _enqueue(self, session: AsyncSession, citizen: Citizen, turn: Turn, now: datetime) -> None:
        limit = text_limit(citizen.channel)
        rows: list[dict[str, object]] = []
        for reply in turn.replies:
            rendered = self.translator.render(reply, citizen.language)
            options = tuple((o.payload, o.label) for o in rendered.options)
            # Text-only channels append the options as a numbered list: keep room for it.
            room = max(MIN_PART_CHARS, limit - len(render_numbered("", options, rendered.number_hint)) - 2)
            parts = split_text(rendered.text, room)
            for index, part in enumerate(parts):
                is_last = index == len(parts) - 1
                rows.append(
                    outbox.row(
                        channel=citizen.channel,
                        recipient=citizen.external_id,
                        citizen_id=citizen.id,
                        text=part,
                        options=options if is_last else (),
                        number_hint=rendered.number_hint if is_last else "",
                        conversation_version=turn.state.version,
                        now=now,
                        # The confirmation of /cancella_dati: the dispatcher pseudonymises the chat id once it is sent.
                        purge_recipient=citizen.erased_at == now,
                    )
                )
        await outbox.enqueue_many(session, rows)  # one statement for all of a turn's replies
