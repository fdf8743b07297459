"""A need's thread: the holding cooperative and the citizen write to each other; the citizen adds
information or withdraws the request. Who takes part is computed from the need's current holder."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.effects.base import Applying, Conflict, Handler
from bot.notify import Notifier, Recipient
from bot.roles import Sender
from conversations import (
    THREAD_OPEN_FOR,
    CitizenWrote,
    CooperativeWrote,
    Msg,
    NeedStatus,
    NeedWithdrawn,
    Reply,
    ThreadClosed,
    ThreadOpened,
    WaitingShown,
)
from conversations.channels import is_window_open
from storage import audit, cooperatives, needs, routing, threads
from storage.audit import AuditAction
from storage.models import Direction

logger = logging.getLogger(__name__)

WITHDRAWN_NOTE = "ritirata dalla persona"
WINDOW_MARGIN = timedelta(minutes=10)
"""A message written this close to the end of WhatsApp's window waits for the citizen like one outside it:
sent freeform it could fail 63016 and be resent inside the window template, words and all."""


def of_that_cooperative(sender: Sender, effect: CooperativeWrote) -> bool:
    """Still an active operator of the cooperative that writes (revoked since the guard read it: refused)."""
    return sender.operator is not None and sender.operator.cooperative_id == effect.cooperative_id


class ThreadEffects:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(CooperativeWrote, self.cooperative_wrote, requires=of_that_cooperative),
            Handler(CitizenWrote, self.citizen_wrote),
            Handler(ThreadOpened, self.opened),
            Handler(ThreadClosed, self.closed),
            Handler(WaitingShown, self.shown),
            Handler(NeedWithdrawn, self.withdrawn),
        )

    async def cooperative_wrote(self, a: Applying, effect: CooperativeWrote) -> None:
        """To the citizen now; on WhatsApp outside the 24-hour window only the template's notice goes,
        and the message waits for their answer (`WaitingShown`)."""
        session = a.session
        if await threads.holder_of(session, need_id=effect.need_id) != effect.cooperative_id:
            raise Conflict("the need changed hands")  # replayed: the desk then answers as for an unknown ticket
        citizen = await needs.citizen_of(session, need_id=effect.need_id)
        if citizen is None or citizen.id is None or citizen.erased_at is not None:
            logger.info("need %s: its citizen erased their data, message not stored", effect.need_id)
            return
        waiting = not is_window_open(citizen.channel, citizen.last_inbound_at, a.now + WINDOW_MARGIN)
        await threads.add(
            session,
            need_id=effect.need_id,
            direction=Direction.TO_CITIZEN,
            body=effect.text,
            at=effect.at,
            operator_id=effect.operator_id,
            cooperative_id=effect.cooperative_id,
            waiting=waiting,
        )
        await audit.record(
            session, actor=f"operator:{effect.operator_id}", action=AuditAction.THREAD_MESSAGE, need_id=effect.need_id, detail=Direction.TO_CITIZEN, at=effect.at
        )
        await threads.open_for_citizen(session, citizen_id=citizen.id, need_id=effect.need_id, until=a.now + THREAD_OPEN_FOR)
        to = Recipient.of_citizen(citizen)
        if waiting:
            if await threads.hold_for_citizen(session, citizen_id=citizen.id) == 1:  # one notice for a backlog
                await self.notifier.tell(session, to, Reply(Msg("thread.held_notice")), a.now)
            return
        name = (await cooperatives.names(session, ids=[effect.cooperative_id])).get(effect.cooperative_id, "")
        reply = Reply(Msg("thread.from_cooperative", {"cooperative": name, "ticket": effect.ticket, "text": effect.text}))
        await self.notifier.tell(session, to, reply, a.now, need_id=effect.need_id)

    async def citizen_wrote(self, a: Applying, effect: CitizenWrote) -> None:
        """To the holding cooperative's operators; added information before anyone holds the need goes
        to the cooperatives it is offered to, like the description it completes."""
        session = a.session
        holder = await threads.holder_of(session, need_id=effect.need_id)
        direction = Direction.INFO if effect.is_info else Direction.FROM_CITIZEN
        await threads.add(session, need_id=effect.need_id, direction=direction, body=effect.text, at=effect.at, cooperative_id=holder)
        await audit.record(session, actor="citizen", action=AuditAction.THREAD_MESSAGE, need_id=effect.need_id, detail=direction, at=effect.at)
        if holder is not None:
            targets = [holder]
        elif effect.is_info:
            targets = await routing.assigned_cooperatives(session, need_id=effect.need_id)
        else:
            return
        msgid = "thread.op_info_added" if effect.is_info else "thread.op_from_citizen"
        reply = Reply(Msg(msgid, {"ticket": effect.ticket, "text": effect.text}))
        await self.notifier.tell_operators(session, targets, lambda op: reply, effect.at, need_id=effect.need_id)

    async def opened(self, a: Applying, effect: ThreadOpened) -> None:
        threads.open_for(a.citizen, need_id=effect.need_id, until=effect.until)

    async def closed(self, a: Applying, effect: ThreadClosed) -> None:
        threads.close_for(a.citizen)

    async def shown(self, a: Applying, effect: WaitingShown) -> None:
        await threads.mark_shown(a.session, citizen=a.citizen, ids=effect.message_ids)
        threads.open_for(a.citizen, need_id=effect.need_id, until=effect.until)

    async def withdrawn(self, a: Applying, effect: NeedWithdrawn) -> None:
        session = a.session
        if not await routing.change_status(
            session, need_id=effect.need_id, from_status=effect.from_status, to_status=NeedStatus.CLOSED, actor="citizen", note=WITHDRAWN_NOTE, at=effect.at
        ):
            raise Conflict("status changed meanwhile")
        await audit.record(session, actor="citizen", action=AuditAction.NEED_WITHDRAWN, need_id=effect.need_id, at=effect.at)
        holder = await threads.holder_of(session, need_id=effect.need_id)
        targets = [holder] if holder is not None else await routing.assigned_cooperatives(session, need_id=effect.need_id)
        reply = Reply(Msg("thread.op_withdrawn", {"ticket": effect.ticket}))
        await self.notifier.tell_operators(session, targets, lambda op: reply, effect.at, need_id=effect.need_id)
        if a.citizen.thread_need_id == effect.need_id:
            threads.close_for(a.citizen)
