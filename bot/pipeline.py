"""The pipeline: one inbound, one transaction — dedup, state, step, effects, replies into the outbox."""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dead_letters
from bot.background import Background, Taken, Wakeups
from bot.categories import CategoryCache
from bot.clock import utc_now
from bot.effects import Applying, Conflict, Registry
from bot.notify import Recipient, rows_for
from bot.pacing import Pacer, TurnBudget
from bot.reads import Reader, thread
from bot.suggest import LanguageDetector, Suggester, Unprepared
from conversations import Category, Context, Engine, Gazetteer, Inbound, NeedSummary, Role, Translator, Turn, make_ticket
from storage import citizens, conversations, inbound, needs, outbox
from storage.delivery import Contact
from storage.db import holds_the_write_lock, is_outage, transaction
from storage.models import Citizen

logger = logging.getLogger(__name__)

MAX_TICKET_DRAWS: Final = 5


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of an inbound: `duplicate` when it had been accepted before."""

    duplicate: bool
    replies: int = 0
    citizen_id: int | None = None
    failed: bool = False
    """The turn raised and was rolled back: recorded as a dead letter, the citizen told once."""
    deferred: bool = False
    """Stored to be answered later, in order: its sender is over their turn budget (`bot/pacing.py`)."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    idle_timeout: timedelta = timedelta(hours=24)
    default_language: str = "it"
    controller: str = ""
    retention_days: int = 365
    notice_version: int = 1
    attachments_per_need: int | None = None
    needs_per_day: int | None = None
    """Staff are not limited (docs/architecture.md "Flood control")."""
    listens: frozenset[str] = frozenset()
    """Channels whose voice notes are transcribed (``[voice] enabled``; `bot/voice.py`)."""


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
        registry: Registry,
        reader: Reader,
        categories: CategoryCache,
        wakeups: Wakeups,
        background: Background,
        clock: Callable[[], datetime] = utc_now,
        entropy: Callable[[int], bytes] = os.urandom,
        pacer: Pacer | None = None,
        suggester: Suggester | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.translator = translator
        self.gazetteer = gazetteer
        self.config = config
        self.registry = registry
        self.reader = reader
        self.categories = categories
        self.wakeups = wakeups
        self.background = background
        self.clock = clock
        self.entropy = entropy
        self.pacer = pacer or Pacer(TurnBudget(), translator)
        self.suggester = suggester
        self.detector = detector

    async def handle(self, event: Inbound, *, deferred_id: int | None = None) -> Handled:
        """Apply one inbound exactly once; raises only if the database fails (then nothing was written).

        A turn that raises for any other reason is rolled back and recorded as a dead letter, and
        the citizen is told once (`_dead_letter`): no message can stop a channel or be retried for ever.
        With `deferred_id`, `event` is a stored message whose sender's budget may allow it now
        (`bot/pacing.Replayer`): answered and deleted in one transaction, or `duplicate` and left.
        """
        try:
            return await self._turn(event, deferred_id)
        except Exception as exc:
            if is_outage(exc):
                raise
            return await self._dead_letter(event, exc, deferred_id)

    async def _turn(self, event: Inbound, deferred_id: int | None) -> Handled:
        for _ in range(MAX_TICKET_DRAWS):
            after: list[Callable[[], None]] = []
            handoffs: list[Taken] = []
            try:
                try:
                    async with transaction(self.sessions, on_the_loop=True) as session:
                        result = await self._apply(session, event, after, deferred_id, handoffs)
                except BaseException:
                    for handoff in handoffs:  # nothing was written for it
                        handoff.cancel()
                    raise
            except needs.TicketTaken:
                logger.warning("ticket collision, drawing again")
                continue
            except (Conflict, conversations.StaleConversation) as exc:  # raced another turn: replay on fresh data
                logger.info("turn replayed: %s", exc)
                continue
            except Unprepared as wanted:  # the model runs off the loop and outside the transaction; then the turn again
                await wanted.prepare()
                continue
            if not result.duplicate:
                self.wakeups.outbox(outbox.written(session))  # the chats it wrote for: the dispatcher claims only for those it can serve
            for work in after:  # only what this committed turn asked for
                try:
                    work()
                except Exception as exc:  # the turn is committed: a hook's failure must not undo that
                    logger.error("work after the commit of a turn failed (%s)", type(exc).__name__)
            return result
        raise RuntimeError("could not draw a free ticket code")

    async def _apply(
        self,
        session: AsyncSession,
        event: Inbound,
        after: list[Callable[[], None]],
        deferred_id: int | None,
        handoffs: list[Taken],
    ) -> Handled:
        now = self.clock()
        citizen, state = await conversations.with_citizen(
            session,
            channel=event.channel,
            external_id=event.sender,
            now=now,
            language=self.config.default_language,
        )
        assert citizen.id is not None
        if deferred_id is not None:
            if not await self.pacer.resume(session, citizen, deferred_id, now):
                return Handled(duplicate=True, citizen_id=citizen.id)  # not its turn yet, or answered elsewhere
        elif not await inbound.record(
            session, channel=event.channel, external_id=event.external_id, citizen_id=citizen.id, at=now
        ):
            logger.info("duplicate inbound %s/%s dropped", event.channel, event.external_id)
            return Handled(duplicate=True, citizen_id=citizen.id)
        elif not self.pacer.admits(citizen, event.channel, now):
            replies = await self.pacer.defer(session, citizen, event, now, version=state.version)
            citizen.last_inbound_at = now
            citizen.is_unreachable = False
            return Handled(duplicate=False, replies=replies, citizen_id=citizen.id, deferred=True)
        call = self.engine.recognise(event, state)  # the one parse of this message as a command
        ctx, call = await thread.load(session, self.engine, event, citizen, await self._context(session, citizen, now), call)
        ctx = await self.reader.load(
            session, event=event, state=state, call=call, flow=self.engine.flow_reads(state), ctx=ctx, now=now
        )
        if citizen.erased_at is not None:  # erased, and writing again before the pseudonym landed: a fresh start
            citizen.erased_at = None
        turn = self.engine.step(state, event, ctx, call)
        await conversations.save(session, citizen_id=citizen.id, state=turn.state, read_version=state.version)
        applying = Applying(session, citizen, now, after)
        for effect in turn.effects:
            await self.registry.apply(applying, effect)
        if deferred_id is None and event.transcript is None:  # a stored message came when it was stored; a transcript is not them writing
            citizen.last_inbound_at = now
            citizen.is_unreachable = False
        self.pacer.spend(citizen, event.channel, now, resumed=deferred_id is not None)
        await self._enqueue(session, citizen, turn, now, after, handoffs)
        return Handled(duplicate=False, replies=len(turn.replies), citizen_id=citizen.id)

    async def _dead_letter(self, event: Inbound, exc: Exception, deferred_id: int | None = None) -> Handled:
        """Record the failed inbound under its key (a redelivery is then a duplicate: told once, never
        retried), and tell the citizen; if even that raises, record it without telling them. A stored
        message that fails leaves the store with its dead letter, so the replayer never retries it."""
        ref, error = self.entropy(4).hex(), dead_letters.error_name(exc)
        # Class, place and reference only: a database error's message carries what people wrote.
        logger.error("turn failed (%s at %s): dead letter %s", error, dead_letters.where(exc), ref)
        failure = dead_letters.Failure(event, error, ref, self.clock())
        try:
            async with transaction(self.sessions) as session:
                stored = await self.pacer.drop(session, event, deferred_id)
                told = await dead_letters.record(
                    session, failure, translator=self.translator, language=self.config.default_language, stored=stored
                )
        except Exception as again:
            if is_outage(again):
                raise
            logger.error("dead letter %s: the citizen could not be told (%s)", ref, dead_letters.error_name(again))
            async with transaction(self.sessions) as session:
                stored = await self.pacer.drop(session, event, deferred_id)
                told = await dead_letters.record(session, failure, translator=None, language="", stored=stored)
        if told.replies:
            self.wakeups.outbox()
        return Handled(duplicate=told.duplicate, replies=told.replies, citizen_id=told.citizen_id, failed=not told.duplicate)

    async def drain(self) -> None:
        """Wait for the work started after commits (on-demand digests, media sweeps): tests and shutdown."""
        await self.background.drain()

    async def _context(self, session: AsyncSession, citizen: Citizen, now: datetime) -> Context:
        assert citizen.id is not None
        language = citizen.language
        categories = tuple(
            Category(slug=c.slug, label=c.name(language), aliases=(c.slug, c.name_it, c.name_en, *c.synonyms))
            for c in await self.categories.active(session)
        )
        labels = {c.slug: c.label for c in categories}
        mine = tuple(
            NeedSummary(
                ticket=n.ticket,
                category_label=labels.get(n.category_slug, n.category_slug),
                status=n.status,
                created_at=n.created_at,
                id=n.id,
                cooperative=n.name,
                changed_at=n.updated_at,
            )
            for n in await needs.summaries_of_citizen(
                session, citizen_id=citizen.id, limit=max(10, self.config.needs_per_day or 0)
            )
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
            attachments_per_need=self.config.attachments_per_need,
            needs_per_day=await self._needs_per_day(session, citizen, mine, now),
            language=language,
            languages=self.translator.languages,
            suggest=self.suggester.for_turn(categories) if self.suggester is not None else None,
            detect_language=self.detector.detect if self.detector is not None else None,
            listens=citizen.channel in self.config.listens,
        )

    async def _needs_per_day(
        self, session: AsyncSession, citizen: Citizen, mine: Sequence[NeedSummary], now: datetime
    ) -> int | None:
        """The daily cap on new needs for this sender: none for staff, looked up only for someone at the cap."""
        cap = self.config.needs_per_day
        if cap is None or sum(n.created_at > now - timedelta(days=1) for n in mine) < cap:
            return cap
        sender = await self.reader.roles.of(session, channel=citizen.channel, external_id=citizen.external_id)
        return None if sender.role != Role.CITIZEN else cap

    async def _enqueue(
        self, session: AsyncSession, citizen: Citizen, turn: Turn, now: datetime, after: list[Callable[[], None]], handoffs: list[Taken]
    ) -> None:
        to = Recipient.of_citizen(citizen)
        # The confirmation of /cancella_dati: the dispatcher pseudonymises the chat id once it is sent.
        purge = citizen.erased_at == now
        rows = [
            row
            for reply in turn.replies
            for row in rows_for(
                self.translator, to=to, reply=reply, now=now, conversation_version=turn.state.version, purge_recipient=purge, need_id=reply.about
            )
        ]
        await citizens.write_changes(session, citizen)  # without the ORM's flush, which cost four times more
        if not await self._hand_over(session, citizen, rows, after, handoffs):
            await outbox.enqueue_many(session, rows)  # one statement for all of a turn's replies, for a claim
        if holds_the_write_lock(session) and (ride := self.wakeups.marks()) is not None:  # one commit for both (SQLite)
            handoffs.append(ride)  # given back if this rolls back (`_turn`)
            await ride.write(session)
            after.append(ride.committed)

    async def _hand_over(
        self, session: AsyncSession, citizen: Citizen, rows: list[dict[str, object]], after: list[Callable[[], None]], handoffs: list[Taken]
    ) -> bool:
        """Write the replies for the live dispatcher to send once this commits, with no claim: whether it took them."""
        chats = {(str(row["channel"]), str(row["recipient"])) for row in rows}
        if len(chats) != 1:
            return False
        [chat] = chats
        handoff = self.wakeups.handoff(chat, len(rows))
        if handoff is None:
            return False
        handoffs.append(handoff)  # given back if this transaction rolls back (`_turn`)
        if not handoff.may_follow(await outbox.pending_ids(session, chat)):
            handoff.cancel()  # rows of the chat wait elsewhere (backing off, another worker's): behind them, by a claim
            return False
        # After the chat's rows the dispatcher holds.
        ids = await outbox.enqueue_leased(session, rows, until=handoff.until)
        after.append(functools.partial(handoff.hand, ids, rows, Contact(citizen.last_inbound_at, citizen.opted_out_at)))
        return True
