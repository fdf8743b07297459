"""What a command or a staff flow reads before the pure step: loaded from its spec, never by its name.

The engine recognises a message as a command once (`Engine.recognise`); the spec of that `Call`
and the flow in progress declare what they read (`Reads`). `Reader.load` looks the sender up
only when one of them needs it, then runs each declared loader the sender may see, in the
turn's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.reads import desk, handover, staff
from bot.reads.reading import Reading
from bot.roles import Roles, Sender
from conversations import Call, Context, Desk, Inbound, Reads, Staff, State, Who

__all__ = ["Reader", "Reading", "SOURCES"]


Loader = Callable[[Reading, Context], Awaitable[Context]]


@dataclass(frozen=True, slots=True)
class Source:
    """A loader and who may see what it loads (an admin's figures are not read for a citizen)."""

    who: Who
    load: Loader | None
    """None: a modifier another loader reads from `Reading.reads` (a need's history, its phone)."""
    by_role: bool = True
    """False: the same for everyone, read without looking the sender up (a citizen's turn stays cheap)."""


SOURCES: Mapping[Reads, Source] = {
    Reads.STATS: Source(Who.ADMIN, staff.stats),
    Reads.SYSTEM: Source(Who.ADMIN, staff.system),
    Reads.AUDIT: Source(Who.ADMIN, staff.audit),
    Reads.OPERATORS: Source(Who.ADMIN, staff.operators),
    Reads.CATEGORIES: Source(Who.ADMIN, staff.categories),
    Reads.COOPERATIVES: Source(Who.ADMIN, staff.cooperatives),
    Reads.COOPERATIVE: Source(Who.ADMIN, staff.cooperative),
    Reads.AUDIENCE: Source(Who.ADMIN, staff.audience),
    Reads.INVITE: Source(Who.ANYONE, desk.invite),
    Reads.NEED_LIST: Source(Who.OPERATOR, desk.need_list),
    Reads.NEED: Source(Who.OPERATOR, desk.need),
    Reads.NEED_HISTORY: Source(Who.OPERATOR, None),
    Reads.NEED_PHONE: Source(Who.OPERATOR, None),
    Reads.ANY_NEED: Source(Who.ADMIN, handover.any_need),
    Reads.TARGET: Source(Who.STAFF, handover.target),
    Reads.COVERAGE: Source(Who.ANYONE, handover.coverage, by_role=False),
}


class Reader:
    """Loads a turn's command data into its `Context`; nothing at all for a citizen's ordinary message."""

    def __init__(
        self, roles: Roles, *, page_size: int = 5, invite_attempts: int = 5, digest_pause: timedelta = timedelta(minutes=10)
    ) -> None:
        self.roles = roles
        self.page_size = page_size
        self.invite_attempts = invite_attempts
        self.digest_pause = digest_pause

    async def load(
        self,
        session: AsyncSession,
        *,
        event: Inbound,
        state: State,
        call: Call | None,
        flow: tuple[Who, frozenset[Reads]],
        ctx: Context,
        now: datetime,
    ) -> Context:
        """An admin in a staff flow gets the flow's data even when the message is also a command:
        it may be the flow's answer, or a command whose reply asks the flow's question again."""
        flow_who, flow_reads = flow
        reads = flow_reads | (call.spec.reads if call is not None else frozenset())
        by_role = any(SOURCES[r].by_role for r in reads)
        needs_sender = by_role or flow_who.needs_role or (call is not None and call.spec.who.needs_role)
        if not needs_sender and not reads:
            return ctx
        sender = Sender()
        if needs_sender:
            sender = await self.roles.of(session, channel=event.channel, external_id=event.sender)
            ctx = replace(
                ctx,
                staff=Staff(role=sender.role, cooperative_id=sender.cooperative_id),
                desk=Desk(operator=sender.operator, page_size=self.page_size),
            )
        reading = Reading(session, event, state, call, reads, sender, now, self.page_size, self.invite_attempts, self.digest_pause)
        for wanted in sorted(reads):  # a stable order: the same statements every time
            source = SOURCES[wanted]
            if source.load is not None and source.who.admits(ctx):
                ctx = await source.load(reading, ctx)
        return ctx
