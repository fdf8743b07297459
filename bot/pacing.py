"""How fast one person is answered (issue 13): a turn budget per citizen, and the messages that wait for it.

The budget is GCRA (the generic cell rate algorithm: a token bucket kept as one timestamp,
`citizen.paced_until`): a message is answered now when `paced_until` is at most `burst − 1`
intervals ahead of now, and answering it moves `paced_until` one interval on. The timestamp lives
on the citizen row, which the pipeline already locks and writes in every turn, so the budget costs
no statement, holds across workers, and is decided in the transaction that answers the message.
(Rate-limit libraries keep their state in memory or in a store of their own, outside that
transaction: two workers would each grant the budget.)

A message beyond the budget is stored whole (`storage/deferred.py`), with its `inbound_event` row
so a redelivery is still dropped, and the sender is told once that they will be answered in order.
While a citizen has stored messages, new ones queue behind them. `Replayer` answers them through
`Pipeline.handle`, one a turn of the budget, deleting each in the transaction that answers it:
nothing is dropped, nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import wait_any
from bot.notify import Recipient, rows_for
from conversations import Inbound, Msg, Reply, Translator
from conversations.channels import traits_of
from storage import citizens, deferred, outbox
from storage.db import transaction
from storage.models import Citizen

logger = logging.getLogger(__name__)

IN_ORDER: Final = Msg("flood.in_order")
"""Said once when a citizen's messages start to wait: "Ti rispondo un messaggio alla volta, in ordine"."""


@dataclass(frozen=True, slots=True)
class TurnBudget:
    """`per_minute` turns a minute, `burst` of them at once (`[limits]`)."""

    per_minute: float = 30.0
    burst: int = 20

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=1) / self.per_minute

    @property
    def tolerance(self) -> timedelta:
        return self.interval * (self.burst - 1)

    def allows(self, paced_until: datetime | None, now: datetime) -> bool:
        return paced_until is None or paced_until - now <= self.tolerance

    def spend(self, paced_until: datetime | None, now: datetime) -> datetime:
        return max(paced_until or now, now) + self.interval


class Pacer:
    """The pipeline's side of the budget: answer now, or store the message behind the citizen's others."""

    def __init__(self, budget: TurnBudget, translator: Translator) -> None:
        self.budget = budget
        self.translator = translator

    def admits(self, citizen: Citizen, channel: str, now: datetime) -> bool:
        """Whether a new message is answered now (then `spend` at the end of its turn)."""
        if not traits_of(channel).paced:
            return True
        return citizen.deferred_inbounds == 0 and self.budget.allows(citizen.paced_until, now)

    def spend(self, citizen: Citizen, channel: str, now: datetime, *, resumed: bool) -> None:
        """A turn was answered: one interval of the budget goes (set with the turn's other citizen
        columns, so it rides on the UPDATE the turn makes anyway)."""
        if resumed:
            citizen.deferred_inbounds = max(0, citizen.deferred_inbounds - 1)
        if resumed or traits_of(channel).paced:
            citizen.paced_until = self.budget.spend(citizen.paced_until, now)

    async def defer(self, session: AsyncSession, citizen: Citizen, event: Inbound, now: datetime, *, version: int) -> int:
        """Store `event` behind the citizen's other waiting messages; the first one brings the notice.

        Returns how many outbox rows were queued (the notice: once a backlog, not once a message).
        """
        assert citizen.id is not None
        await deferred.store(session, citizen_id=citizen.id, event=event, now=now)
        is_first = citizen.deferred_inbounds == 0
        citizen.deferred_inbounds += 1
        if not is_first:
            return 0
        to = Recipient.of_citizen(citizen)
        rows = rows_for(self.translator, to=to, reply=Reply(IN_ORDER), now=now, conversation_version=version)
        await outbox.enqueue_many(session, rows)
        return len(rows)

    async def resume(self, session: AsyncSession, citizen: Citizen, deferred_id: int, now: datetime) -> bool:
        """A stored message's turn: True, with its row deleted, when it is answered now (then `spend`).

        False when the budget does not allow it yet, or another worker answered it already.
        """
        assert citizen.id is not None
        if not self.budget.allows(citizen.paced_until, now):
            return False
        return await deferred.take(session, citizen_id=citizen.id, deferred_id=deferred_id)


    async def drop(self, session: AsyncSession, event: Inbound, deferred_id: int | None) -> bool:
        """A stored message whose turn failed leaves the store (its dead letter keeps the fact); True if it did."""
        if deferred_id is None:
            return False
        citizen = await citizens.by_identity(session, channel=event.channel, external_id=event.sender)
        if citizen is None or citizen.id is None or not await deferred.take(session, citizen_id=citizen.id, deferred_id=deferred_id):
            return False
        citizen.deferred_inbounds = max(0, citizen.deferred_inbounds - 1)
        return True


class Answered(Protocol):
    @property
    def duplicate(self) -> bool:
        """True: nothing was done (not its turn yet, or another worker answered it)."""


class Handles(Protocol):
    """`Pipeline.handle` as the replayer calls it (a Protocol: `bot.pipeline` imports this module)."""

    async def handle(self, event: Inbound, *, deferred_id: int | None = None) -> Answered: ...


REST_SECONDS: Final = (1.0, 300.0)
"""After a stored message's turn fails, its citizen rests this long, doubling up to the cap."""


class Replayer:
    """Answers stored messages as their senders' budgets allow, each citizen's oldest first.

    Several workers may run one each: the pipeline locks the citizen and deletes the row in the
    transaction that answers it, so a message another worker answered is skipped.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pipeline: Handles,
        budget: TurnBudget,
        *,
        clock: Callable[[], datetime],
        idle_poll: float = 1.0,
        batch_size: int = 50,
    ) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.budget = budget
        self.clock = clock
        self.idle_poll = idle_poll
        self.batch_size = batch_size
        self.found = 0
        """Stored messages the last `run_once` found due, answered or not."""
        self._resting: dict[int, tuple[float, float]] = {}
        """citizen id -> (monotonic time until which it rests, its last rest): a turn that keeps failing waits longer."""

    async def run_once(self) -> int:
        """Answer the oldest stored message of every citizen whose budget allows it now; how many were answered."""
        now = self.clock()
        async with transaction(self.sessions) as session:
            waiting = await deferred.due(session, paced_until_by=now + self.budget.tolerance, limit=self.batch_size)
        answered = 0
        self.found = len(waiting)
        for head in waiting:
            rest = self._resting.get(head.citizen_id)
            if rest is not None and rest[0] > time.monotonic():
                continue
            try:
                result = await self.pipeline.handle(head.event, deferred_id=head.id)
            except Exception as exc:  # the database, or a turn that raises: this citizen waits, the others go on
                pause = min(REST_SECONDS[1], 2 * rest[1]) if rest is not None else REST_SECONDS[0]
                self._resting[head.citizen_id] = (time.monotonic() + pause, pause)
                logger.warning(
                    "deferred inbound %s not answered (%s): retrying in %.0f s", head.id, type(exc).__name__, pause
                )
                continue
            self._resting.pop(head.citizen_id, None)
            answered += not result.duplicate
        return answered

    async def next_wait(self) -> float:
        """Seconds until the next stored message may be answered, at most `idle_poll` (new ones come in meanwhile)."""
        async with self.sessions() as session:
            earliest = await deferred.earliest_paced_until(session)
        if earliest is None:
            return self.idle_poll
        ready = earliest - self.budget.tolerance - self.clock()
        return min(self.idle_poll, max(0.0, ready.total_seconds()))

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                answered = await self.run_once()
                if answered:
                    wait = 0.0  # more may be due: answered ones spent their budget, others did not
                elif self.found:
                    wait = self.idle_poll  # due but resting, or answered by another worker
                else:
                    wait = await self.next_wait()
            except Exception:  # the loop must survive a database blip
                logger.exception("replaying deferred inbounds failed")
                wait = self.idle_poll
            if wait > 0:
                await wait_any(stop, timeout=wait)
