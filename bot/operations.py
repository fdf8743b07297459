"""The cooperative side of the pipeline: loads operator data for operator commands, routes new needs, applies claims and status changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.notify import Recipient, enqueue
from conversations import (
    WORD_CHANNELS,
    AssignmentStatus,
    CommandRefused,
    Desk,
    Effect,
    FollowUpAnswered,
    FollowUpKind,
    HistoryItem,
    Inbound,
    InviteView,
    NeedClaimed,
    NeedCreated,
    NeedDeclined,
    NeedStatus,
    NeedView,
    NoteAdded,
    OperatorEnrolled,
    OperatorView,
    Reply,
    SatisfactionGiven,
    StatusChanged,
    Translator,
    notifications,
    parse_operator_command,
)
from conversations.operator import ENROL
from conversations.ticket import compact_code

from storage import audit, cooperatives, operators, routing
from storage import staff as staff_roles
from storage.audit import AuditAction
from storage.models import (
    Category,
    Citizen,
    ComuneRow,
    FollowUp,
    Need,
)

logger = logging.getLogger(__name__)


class Conflict(Exception):
    """Someone else changed the row between our read and our write: the pipeline replays the turn."""


@dataclass(frozen=True, slots=True)
class Admins:
    """The admins of `[admin]`; `Operations.tell_admins` adds those granted from the chat (`staff_role`)."""

    recipients: tuple[Recipient, ...] = ()


class Operations:
    """Stateless helpers the pipeline and the jobs share; built once with the translator and admins."""

    def __init__(self, translator: Translator, admins: Admins = Admins(), *, page_size: int = 5) -> None:
        self.translator = translator
        self.admins = admins
        self.page_size = page_size

    # --- reading ----------------------------------------------------------

    async def load_desk(self, session: AsyncSession, *, event: Inbound) -> Desk:
        """Operator data for the engine, read only when the message is an operator command."""
        cmd = parse_operator_command(event.text or event.choice or "", with_arguments=event.channel in WORD_CHANNELS)
        if cmd is None:
            return Desk()
        found = await operators.by_identity(session, channel=event.channel, external_id=event.sender)
        view = None
        if found is not None:
            op, coop = found
            assert op.id is not None and coop.id is not None
            view = OperatorView(id=op.id, cooperative_id=coop.id, cooperative_name=coop.name, role=op.role)
        if cmd.name == ENROL:
            invite = None
            if cmd.code:
                hit = await operators.invite_with_cooperative(session, code=compact_code(cmd.code))
                if hit is not None:
                    inv, coop = hit
                    assert coop.id is not None
                    invite = InviteView(
                        code=inv.code,
                        cooperative_id=coop.id,
                        cooperative_name=coop.name,
                        role=inv.role,
                        expires_at=inv.expires_at,
                        is_used=inv.used_at is not None,
                    )
            return Desk(operator=view, invite=invite)
        if view is None:
            return Desk()
        language = found[0].language if found else "it"
        if cmd.name == "richieste":
            page = int(cmd.arg) if cmd.arg.isdigit() and 0 < int(cmd.arg) < 10_000 else 1
            total, rows = await routing.open_needs(
                session, cooperative_id=view.cooperative_id, offset=(page - 1) * self.page_size, limit=self.page_size
            )
            items = tuple(
                _need_view(n, comune, category, language, is_ours=n.claimed_by_cooperative_id == view.cooperative_id)
                for n, comune, category in rows
            )
            return Desk(operator=view, open_needs=items, open_total=total, page=page, page_size=self.page_size)
        if not cmd.code:
            return Desk(operator=view)
        need = await routing.by_ticket(session, ticket=cmd.code)
        if need is None:
            return Desk(operator=view)
        is_ours = need.claimed_by_cooperative_id == view.cooperative_id
        offered = await routing.assignment_status(session, need_id=need.id, cooperative_id=view.cooperative_id)
        if not is_ours and offered is None:
            return Desk(operator=view)
        comune, category = await routing.comune_and_category(session, need=need)
        claimed_by = None
        if need.claimed_by_cooperative_id is not None:
            claimed_by = (await cooperatives.names(session, ids=[need.claimed_by_cooperative_id])).get(
                need.claimed_by_cooperative_id
            )
        history: tuple[HistoryItem, ...] = ()
        if cmd.name == "richiesta":
            history = tuple(HistoryItem(at, status, note) for at, status, note in await routing.history(session, need_id=need.id))
        # The phone is shown only to the cooperative that holds the need, or in the reply to a winning claim.
        show_phone = is_ours or cmd.name == "prendo"
        view_need = _need_view(
            need,
            comune,
            category,
            language,
            is_ours=is_ours,
            is_offered=offered == AssignmentStatus.ROUTED,
            claimed_by=claimed_by,
            history=history,
            show_phone=show_phone,
        )
        return Desk(operator=view, need=view_need)

    # --- writing ----------------------------------------------------------

    async def route(self, session: AsyncSession, *, need: NeedCreated) -> list[int]:
        """Assign a new need to every matching cooperative and tell their operators; no match goes to the admins."""
        coop_ids = await routing.matching_cooperatives(session, comune_istat=need.comune_istat, category=need.category)
        comune = await session.get(ComuneRow, need.comune_istat)
        category = await session.get(Category, need.category)
        assert comune is not None and category is not None
        if not coop_ids:
            logger.info("need %s matches no cooperative: admins notified", need.need_id)
            reply = notifications.need_unrouted(
                ticket=need.ticket, category=category.name_it, comune=comune.name, urgency=need.urgency
            )
            await self.tell_admins(session, reply, need.at)
            await audit.record(session, actor="system", action=AuditAction.NEED_UNROUTED, need_id=need.need_id, at=need.at)
            return []
        await routing.assign(session, need_id=need.need_id, cooperative_ids=coop_ids, at=need.at)
        for op in await operators.of_cooperatives(session, cooperative_ids=coop_ids):
            reply = notifications.need_routed(
                ticket=need.ticket,
                category=category.name(op.language),
                comune=comune.name,
                urgency=need.urgency,
                description=need.description,
            )
            await enqueue(session, self.translator, to=Recipient.of_operator(op), reply=reply, now=need.at)
        logger.info("need %s routed to %s cooperative(s)", need.need_id, len(coop_ids))
        return coop_ids

    async def apply(self, session: AsyncSession, *, citizen: Citizen, effect: Effect, now: datetime) -> bool:
        """Apply an operator or follow-up effect; False when the effect is not one of ours."""
        if isinstance(effect, OperatorEnrolled):
            await self._enrol(session, citizen, effect)
        elif isinstance(effect, NeedClaimed):
            await self._claim(session, effect)
        elif isinstance(effect, NeedDeclined):
            await self._decline(session, effect)
        elif isinstance(effect, StatusChanged):
            await self._status(session, effect)
        elif isinstance(effect, NoteAdded):
            await routing.add_note(session, need_id=effect.need_id, operator_id=effect.operator_id, text=effect.text, at=effect.at)
            await audit.record(
                session, actor=f"operator:{effect.operator_id}", action=AuditAction.NOTE_ADDED, need_id=effect.need_id, at=effect.at
            )
        elif isinstance(effect, CommandRefused):
            logger.warning("citizen %s tried operator command %s", citizen.id, effect.command)
            await audit.record(
                session, actor=f"citizen:{citizen.id}", action=AuditAction.COMMAND_REFUSED, detail=effect.command, at=now
            )
        elif isinstance(effect, FollowUpAnswered):
            await self._follow_up_answered(session, effect)
        elif isinstance(effect, SatisfactionGiven):
            await session.execute(
                update(Need)
                .where(col(Need.id) == effect.need_id)
                .values(satisfaction=effect.score, satisfaction_comment=effect.comment)
            )
            await _answer_follow_up(session, effect.need_id, FollowUpKind.SATISFACTION, str(effect.score), effect.at)
        else:
            return False
        return True

    async def _enrol(self, session: AsyncSession, citizen: Citizen, effect: OperatorEnrolled) -> None:
        op = await operators.enrol(
            session,
            cooperative_id=effect.cooperative_id,
            channel=citizen.channel,
            external_id=citizen.external_id,
            citizen_id=citizen.id,
            role=effect.role,
            language=citizen.language,
            now=effect.at,
        )
        assert op.id is not None
        if not await operators.use_invite(session, code=effect.invite_code, operator_id=op.id, now=effect.at):
            raise Conflict("invite used meanwhile")
        await audit.record(
            session, actor=f"operator:{op.id}", action=AuditAction.OPERATOR_ENROLLED, cooperative_id=effect.cooperative_id, at=effect.at
        )
        logger.info("operator %s enrolled in cooperative %s", op.id, effect.cooperative_id)

    async def _claim(self, session: AsyncSession, effect: NeedClaimed) -> None:
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
        others = [
            op
            for op in await operators.of_cooperatives(
                session, cooperative_ids=await routing.assigned_cooperatives(session, need_id=effect.need_id, include_declined=True)
            )
            if op.id != effect.operator_id
        ]
        for op in others:
            reply = notifications.taken_by_other(ticket=effect.ticket, cooperative=name)
            await enqueue(session, self.translator, to=Recipient.of_operator(op), reply=reply, now=effect.at)
        await self._tell_citizen(session, effect.need_id, notifications.citizen_claimed(ticket=effect.ticket, cooperative=name), effect.at)

    async def _decline(self, session: AsyncSession, effect: NeedDeclined) -> None:
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
        need = await session.get(Need, effect.need_id)
        assert need is not None
        if need.status == NeedStatus.NEW and not await routing.assigned_cooperatives(session, need_id=need.id):
            comune, category = await routing.comune_and_category(session, need=need)
            reply = notifications.all_declined(ticket=need.ticket, category=category.name_it, comune=comune.name)
            await self.tell_admins(session, reply, effect.at)

    async def _status(self, session: AsyncSession, effect: StatusChanged) -> None:
        if not await routing.change_status(
            session,
            need_id=effect.need_id,
            from_status=effect.from_status,
            to_status=effect.to_status,
            actor=effect.actor,
            note=effect.note,
            at=effect.at,
        ):
            raise Conflict("status changed meanwhile")
        await audit.record(
            session, actor=effect.actor, action=AuditAction.STATUS_CHANGED, need_id=effect.need_id, detail=effect.to_status, at=effect.at
        )
        await self._tell_citizen(
            session, effect.need_id, notifications.citizen_status(ticket=effect.ticket, status=effect.to_status), effect.at
        )

    async def _follow_up_answered(self, session: AsyncSession, effect: FollowUpAnswered) -> None:
        need = await session.get(Need, effect.need_id)
        if need is None:
            return
        need.follow_up_answer = effect.answer
        await _answer_follow_up(session, need.id, FollowUpKind.STILL_NEEDED, effect.answer, effect.at)
        if effect.answer != "si" and need.status in routing.OPEN_STATUSES:
            note = "non serve più" if effect.answer == "no" else "risolta da sola"
            if not await routing.change_status(
                session, need_id=need.id, from_status=need.status, to_status=NeedStatus.CLOSED, actor="citizen", note=note, at=effect.at
            ):
                raise Conflict("status changed meanwhile")
        await audit.record(
            session, actor="citizen", action=AuditAction.FOLLOW_UP_ANSWERED, need_id=need.id, detail=effect.answer, at=effect.at
        )

    async def _tell_citizen(self, session: AsyncSession, need_id: str, reply: Reply, now: datetime) -> None:
        need = await session.get(Need, need_id)
        if need is None or need.citizen_id is None:
            return
        citizen = await session.get(Citizen, need.citizen_id)
        if citizen is None:
            return
        await enqueue(session, self.translator, to=Recipient.of_citizen(citizen), reply=reply, now=now)

    async def tell_admins(self, session: AsyncSession, reply: Reply, now: datetime) -> None:
        """Unrouted needs and escalations: the admins of `[admin]` and those granted from the chat, once each.

        They are named by chat identity; `enqueue` finds each one's citizen row (language, and on
        WhatsApp the 24-hour window, without which the alert would be held).
        """
        recipients = list(self.admins.recipients)
        seen = {(r.channel, r.external_id) for r in recipients}
        for row in await staff_roles.granted_admins(session):
            if (row.channel, row.external_id) not in seen:
                seen.add((row.channel, row.external_id))
                recipients.append(Recipient(row.channel, row.external_id))
        if not recipients:
            logger.warning("no admins: set [admin] in config.toml")
        for admin in recipients:
            await enqueue(session, self.translator, to=admin, reply=reply, now=now)


async def _answer_follow_up(session: AsyncSession, need_id: str, kind: FollowUpKind, answer: str, at: datetime) -> None:
    await session.execute(
        update(FollowUp)
        .where(col(FollowUp.need_id) == need_id, col(FollowUp.kind) == kind)
        .values(answered_at=at, answer=answer[:16])
    )


def _need_view(
    need: Need,
    comune: ComuneRow,
    category: Category,
    language: str,
    *,
    is_ours: bool,
    is_offered: bool = False,
    claimed_by: str | None = None,
    history: tuple[HistoryItem, ...] = (),
    show_phone: bool = False,
) -> NeedView:
    return NeedView(
        id=need.id,
        ticket=need.ticket,
        category_label=category.name(language),
        comune_name=comune.name,
        urgency=need.urgency,
        status=need.status,
        description=need.description,
        created_at=need.created_at,
        contact_method=need.contact_method,
        contact_phone=need.contact_phone if show_phone else None,
        claimed_by=claimed_by,
        is_ours=is_ours,
        is_offered=is_offered,
        history=history,
    )
