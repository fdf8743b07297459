"""Every need reaches someone: an admin's assignment, the needs a new or widened cooperative inherits,
reopening, transfers, and what the holding cooperative hears from the citizen's follow-up."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.effects.base import Applying, Conflict, Handler, admin
from bot.notify import Notifier
from conversations import NeedAssigned, NeedReopened, NeedTransferred, Reply, notifications
from storage import audit, cooperatives, handover, needs
from storage.audit import AuditAction
from storage.models import Category, ComuneRow, Need

logger = logging.getLogger(__name__)


async def tell_routed(
    session: AsyncSession,
    notifier: Notifier,
    cooperative_ids: Sequence[int],
    *,
    ticket: str,
    comune: ComuneRow,
    category: Category,
    urgency: str,
    description: str,
    at: datetime,
    need_id: str | None = None,
) -> None:
    """Offer a need to the operators of these cooperatives, each in their language, with the claim buttons."""
    await notifier.tell_operators(
        session,
        cooperative_ids,
        lambda op: notifications.need_routed(
            ticket=ticket, category=category.name(op.language), comune=comune.name, urgency=urgency, description=description
        ),
        at,
        need_id=need_id,
    )


async def offer(session: AsyncSession, notifier: Notifier, need: Need, cooperative_ids: list[int], at: datetime) -> None:
    """Tell the operators of these cooperatives about a stored need, as routing does when it arrives."""
    comune, category = await needs.labels(session, comune_istat=need.comune_istat, category=need.category_slug)
    await tell_routed(
        session, notifier, cooperative_ids, ticket=need.ticket, comune=comune, category=category, urgency=need.urgency,
        description=need.description, at=at, need_id=need.id,
    )


async def offer_uncovered(session: AsyncSession, notifier: Notifier, *, cooperative_id: int, at: datetime) -> int:
    """A cooperative was created or now covers more: it receives the new needs there that nobody has
    (never those it declined or passed on); returns how many."""
    given = 0
    for need in await handover.uncovered_for(session, cooperative_id=cooperative_id):
        if not await handover.assign(session, need_id=need.id, cooperative_id=cooperative_id, at=at):
            continue
        await offer(session, notifier, need, [cooperative_id], at)
        await audit.record(
            session, actor="system", action=AuditAction.NEED_ROUTED_LATER, need_id=need.id, cooperative_id=cooperative_id, at=at
        )
        given += 1
    if given:
        logger.info("cooperative %s received %s need(s) nobody covered", cooperative_id, given)
    return given


async def tell_holder(session: AsyncSession, notifier: Notifier, need_id: str, reply: Reply, at: datetime) -> None:
    """The operators of the cooperative that holds the need now (none: nobody to tell)."""
    need = await needs.by_id(session, need_id=need_id)
    if need is not None and need.claimed_by_cooperative_id is not None:
        await notifier.tell_operators(session, [need.claimed_by_cooperative_id], lambda op: reply, at)


class HandoverEffects:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(NeedAssigned, self.assigned, requires=admin),
            Handler(NeedReopened, self.reopened),
            Handler(NeedTransferred, self.transferred),
        )

    async def assigned(self, a: Applying, effect: NeedAssigned) -> None:
        if not await handover.assign(a.session, need_id=effect.need_id, cooperative_id=effect.cooperative_id, at=effect.at):
            raise Conflict("assigned or claimed meanwhile")
        need = await needs.by_id(a.session, need_id=effect.need_id)
        assert need is not None
        await offer(a.session, self.notifier, need, [effect.cooperative_id], effect.at)
        await audit.record(
            a.session, actor=a.actor, action=AuditAction.NEED_ASSIGNED, need_id=need.id, cooperative_id=effect.cooperative_id, at=effect.at
        )

    async def reopened(self, a: Applying, effect: NeedReopened) -> None:
        by_citizen = effect.operator_id is None
        actor = "citizen" if by_citizen else f"operator:{effect.operator_id}"
        status = await handover.reopen(
            a.session,
            need_id=effect.need_id,
            from_status=effect.from_status,
            actor=actor,
            operator_id=effect.operator_id,
            note=effect.note,
            at=effect.at,
        )
        if status is None:
            if by_citizen:  # closed or erased meanwhile: the citizen's thanks stand, nothing reopens
                logger.info("need %s: not reopened, its status moved", effect.need_id)
                return
            raise Conflict("status changed meanwhile")
        await audit.record(a.session, actor=actor, action=AuditAction.NEED_REOPENED, need_id=effect.need_id, detail=status, at=effect.at)
        if by_citizen:
            await tell_holder(a.session, self.notifier, effect.need_id, notifications.coop_reopened(ticket=effect.ticket), effect.at)
        else:
            await self.notifier.tell_citizen_of(a.session, effect.need_id, notifications.citizen_reopened(ticket=effect.ticket), effect.at)

    async def transferred(self, a: Applying, effect: NeedTransferred) -> None:
        session = a.session
        if not await handover.transfer(
            session,
            need_id=effect.need_id,
            from_cooperative_id=effect.from_cooperative_id,
            to_cooperative_id=effect.to_cooperative_id,
            operator_id=effect.operator_id,
            reason=effect.reason,
            at=effect.at,
        ):
            raise Conflict("transferred or changed meanwhile")
        await audit.record(
            session,
            actor=f"operator:{effect.operator_id}",
            action=AuditAction.NEED_TRANSFERRED,
            need_id=effect.need_id,
            cooperative_id=effect.to_cooperative_id,
            detail=f"from={effect.from_cooperative_id}",
            at=effect.at,
        )
        names = await cooperatives.names(session, ids=[effect.from_cooperative_id, effect.to_cooperative_id])
        need = await needs.by_id(session, need_id=effect.need_id)
        assert need is not None
        comune, category = await needs.labels(session, comune_istat=need.comune_istat, category=need.category_slug)
        await self.notifier.tell_operators(
            session,
            [effect.to_cooperative_id],
            lambda op: notifications.transferred_in(
                ticket=need.ticket,
                cooperative=names.get(effect.from_cooperative_id, ""),
                reason=effect.reason,
                category=category.name(op.language),
                comune=comune.name,
                urgency=need.urgency,
                description=need.description,
            ),
            effect.at,
        )
        told = notifications.citizen_transferred(ticket=need.ticket, cooperative=names.get(effect.to_cooperative_id, ""))
        await self.notifier.tell_citizen_of(session, need.id, told, effect.at)
