"""A need's life: created and routed, claimed, declined, moved through its statuses, noted, followed up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.effects.base import Applying, Conflict, Handler
from bot.effects.handover import tell_holder, tell_routed
from bot.notify import Notifier
from conversations import (
    OPEN_STATUSES,
    FollowUpAnswered,
    FollowUpKind,
    NeedClaimed,
    NeedCreated,
    NeedDeclined,
    NeedStatus,
    NoteAdded,
    SatisfactionGiven,
    StatusChanged,
    notifications,
)
from storage.audit import AuditAction
from storage import audit, cooperatives, followups, needs, routing

logger = logging.getLogger(__name__)


class NeedEffects:
    """`fetch_media`: channels whose media are downloaded after the commit (`wake_media` starts that)."""

    def __init__(self, notifier: Notifier, *, fetch_media: frozenset[str] = frozenset(), wake_media: Callable[[], None] = lambda: None) -> None:
        self.notifier = notifier
        self.fetch_media = fetch_media
        self.wake_media = wake_media

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(NeedCreated, self.created),
            Handler(NeedClaimed, self.claimed),
            Handler(NeedDeclined, self.declined),
            Handler(StatusChanged, self.status_changed),
            Handler(NoteAdded, self.noted),
            Handler(FollowUpAnswered, self.follow_up_answered),
            Handler(SatisfactionGiven, self.rated),
        )

    async def created(self, a: Applying, effect: NeedCreated) -> None:
        fetch = a.citizen.channel in self.fetch_media
        await needs.create(a.session, citizen_id=a.citizen_id, need=effect, fetch_media=fetch)
        logger.info("need %s created for citizen %s", effect.need_id, a.citizen_id)
        await self.route(a, effect)
        if fetch and effect.media:
            # Downloads never run inside the webhook's transaction: Twilio gets its answer first.
            a.after_commit(self.wake_media)

    async def route(self, a: Applying, need: NeedCreated) -> list[int]:
        """Assign a new need to every matching cooperative and tell their operators; no match goes to the admins."""
        session = a.session
        coop_ids = await routing.matching_cooperatives(session, comune_istat=need.comune_istat, category=need.category)
        comune, category = await needs.labels(session, comune_istat=need.comune_istat, category=need.category)
        if not coop_ids:
            logger.info("need %s matches no cooperative: admins notified", need.need_id)
            reply = notifications.need_unrouted(ticket=need.ticket, category=category.name_it, comune=comune.name, urgency=need.urgency)
            await self.notifier.tell_admins(session, reply, need.at)
            await audit.record(session, actor="system", action=AuditAction.NEED_UNROUTED, need_id=need.need_id, at=need.at)
            return []
        await routing.assign(session, need_id=need.need_id, cooperative_ids=coop_ids, at=need.at)
        await tell_routed(
            session, self.notifier, coop_ids, ticket=need.ticket, comune=comune, category=category, urgency=need.urgency,
            description=need.description, at=need.at,
            need_id=need.need_id,  # a Telegram reply to the alert is `/scrivi` to this need's citizen
        )
        logger.info("need %s routed to %s cooperative(s)", need.need_id, len(coop_ids))
        return coop_ids

    async def claimed(self, a: Applying, effect: NeedClaimed) -> None:
        session = a.session
        won = await routing.claim(
            session, need_id=effect.need_id, cooperative_id=effect.cooperative_id, operator_id=effect.operator_id, at=effect.at
        )
        if not won:
            raise Conflict("claimed meanwhile")
        await audit.record(
            session,
            actor=f"operator:{effect.operator_id}",
            action=AuditAction.NEED_CLAIMED,
            need_id=effect.need_id,
            cooperative_id=effect.cooperative_id,
            at=effect.at,
        )
        name = (await cooperatives.names(session, ids=[effect.cooperative_id]))[effect.cooperative_id]
        offered = await routing.assigned_cooperatives(session, need_id=effect.need_id, include_declined=True)
        taken = notifications.taken_by_other(ticket=effect.ticket, cooperative=name)
        await self.notifier.tell_operators(session, offered, lambda op: taken, effect.at, but=effect.operator_id)
        await self.notifier.tell_citizen_of(session, effect.need_id, notifications.citizen_claimed(ticket=effect.ticket, cooperative=name), effect.at)

    async def declined(self, a: Applying, effect: NeedDeclined) -> None:
        session = a.session
        if not await routing.decline(
            session, need_id=effect.need_id, cooperative_id=effect.cooperative_id, operator_id=effect.operator_id, at=effect.at
        ):
            raise Conflict("declined meanwhile")
        await audit.record(
            session,
            actor=f"operator:{effect.operator_id}",
            action=AuditAction.NEED_DECLINED,
            need_id=effect.need_id,
            cooperative_id=effect.cooperative_id,
            at=effect.at,
        )
        need = await needs.by_id(session, need_id=effect.need_id)
        assert need is not None
        if need.status == NeedStatus.NEW and not await routing.assigned_cooperatives(session, need_id=need.id):
            comune, category = await routing.comune_and_category(session, need=need)
            reply = notifications.all_declined(ticket=need.ticket, category=category.name_it, comune=comune.name)
            await self.notifier.tell_admins(session, reply, effect.at)

    async def status_changed(self, a: Applying, effect: StatusChanged) -> None:
        if not await routing.change_status(
            a.session,
            need_id=effect.need_id,
            from_status=effect.from_status,
            to_status=effect.to_status,
            actor=effect.actor,
            note=effect.note,
            at=effect.at,
            operator_id=_operator_of(effect.actor),
        ):
            raise Conflict("status changed meanwhile")
        await audit.record(a.session, actor=effect.actor, action=AuditAction.STATUS_CHANGED, need_id=effect.need_id, detail=effect.to_status, at=effect.at)
        reply = notifications.citizen_status(ticket=effect.ticket, status=effect.to_status)
        await self.notifier.tell_citizen_of(a.session, effect.need_id, reply, effect.at)

    async def noted(self, a: Applying, effect: NoteAdded) -> None:
        await routing.add_note(a.session, need_id=effect.need_id, operator_id=effect.operator_id, text=effect.text, at=effect.at)
        await audit.record(a.session, actor=f"operator:{effect.operator_id}", action=AuditAction.NOTE_ADDED, need_id=effect.need_id, at=effect.at)

    async def follow_up_answered(self, a: Applying, effect: FollowUpAnswered) -> None:
        need = await needs.by_id(a.session, need_id=effect.need_id)
        if need is None:
            return
        need.follow_up_answer = effect.answer
        await followups.answer(a.session, need_id=need.id, kind=FollowUpKind.STILL_NEEDED, answer=effect.answer, at=effect.at)
        if effect.answer != "si" and need.status in OPEN_STATUSES:
            note = "non serve più" if effect.answer == "no" else "risolta da sola"
            if not await routing.change_status(
                a.session, need_id=need.id, from_status=need.status, to_status=NeedStatus.CLOSED, actor="citizen", note=note, at=effect.at
            ):
                raise Conflict("status changed meanwhile")
            told = notifications.coop_closed(ticket=need.ticket, answer=effect.answer)
            await tell_holder(a.session, self.notifier, need.id, told, effect.at)
        await audit.record(a.session, actor="citizen", action=AuditAction.FOLLOW_UP_ANSWERED, need_id=need.id, detail=effect.answer, at=effect.at)

    async def rated(self, a: Applying, effect: SatisfactionGiven) -> None:
        await needs.rate(a.session, need_id=effect.need_id, score=effect.score, comment=effect.comment)
        await followups.answer(a.session, need_id=effect.need_id, kind=FollowUpKind.SATISFACTION, answer=str(effect.score), at=effect.at)
        need = await needs.by_id(a.session, need_id=effect.need_id)
        if need is not None:
            told = notifications.coop_rated(ticket=need.ticket, score=effect.score, comment=effect.comment)
            await tell_holder(a.session, self.notifier, need.id, told, effect.at)


def _operator_of(actor: str) -> int | None:
    """``"operator:12"`` -> 12: the history row names the operator behind the change."""
    kind, _, ident = actor.partition(":")
    return int(ident) if kind == "operator" and ident.isdigit() else None
