"""The admin side of the pipeline: who is staff, what their command reads, and applying what they confirmed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports import CSV_TYPE, XLSX_TYPE, header, rows, write
from bot.notify import Attachment, Recipient, enqueue
from conversations import (
    AuditEntry,
    BroadcastRequested,
    BroadcastsAccepted,
    BroadcastsRefused,
    CooperativeEntry,
    DataErasureRequested,
    Effect,
    ExportRequested,
    Inbound,
    InviteCreated,
    LanguageChanged,
    Msg,
    OperatorEntry,
    OperatorRevoked,
    Reply,
    RightsExercised,
    Role,
    RoleGranted,
    RoleRevoked,
    Staff,
    StaffCommandUsed,
    State,
    Translator,
)
from conversations.admin import BROADCAST_FLOW, STAFF_FLOWS, audit_size, broadcast_filters, parse_staff_command
from conversations.period import parse_period
from storage import erasure, operators, routing, staff, stats
from storage.models import Citizen

logger = logging.getLogger(__name__)

LANGUAGES = ("it", "en")


@dataclass(frozen=True, slots=True)
class StaffConfig:
    """The admins of `[admin]` (always admins, not revocable from the chat) and where exports go."""

    admins: frozenset[tuple[str, str]] = frozenset()
    export_dir: Path = Path("var/exports")


class StaffOps:
    """Loads a staff member's data only for staff commands and flows; applies admin and rights effects."""

    def __init__(self, translator: Translator, config: StaffConfig = StaffConfig()) -> None:
        self.translator = translator
        self.config = config

    async def role(self, session: AsyncSession, *, channel: str, external_id: str) -> tuple[Role, int | None]:
        if (channel, external_id) in self.config.admins or await staff.is_granted_admin(
            session, channel=channel, external_id=external_id
        ):
            return Role.ADMIN, None
        found = await operators.by_identity(session, channel=channel, external_id=external_id)
        if found is not None:
            return Role.OPERATOR, found[1].id
        return Role.CITIZEN, None

    async def load(self, session: AsyncSession, *, event: Inbound, state: State, now: datetime) -> Staff:
        """Nothing for a citizen's ordinary turn: one parse, no query."""
        cmd = parse_staff_command(event.text or event.choice or "")
        if cmd is None and state.flow_id not in STAFF_FLOWS:
            return Staff()
        role, coop = await self.role(session, channel=event.channel, external_id=event.sender)
        if role != Role.ADMIN:
            return Staff(role=role, cooperative_id=coop)
        base = Staff(role=role)
        if cmd is None:
            if state.flow_id == BROADCAST_FLOW:
                comune, category = broadcast_filters(state.answers)
                return Staff(role=role, recipients=await staff.count_audience(session, comune_istat=comune, category=category))
            return base
        lang = "it"
        if cmd.name == "statistiche":
            period = parse_period(cmd.args, now)
            if period is None:
                return base
            return Staff(role=role, stats=await stats.figures(session, since=period[0], until=period[1], language=lang))
        if cmd.name == "stato_sistema":
            return Staff(role=role, system=await stats.system_status(session, now=now))
        if cmd.name == "audit":
            tail = await staff.audit_tail(session, limit=audit_size(cmd.args))
            return Staff(role=role, audit=tuple(AuditEntry(a.at, a.actor, a.action, _detail(a)) for a in tail))
        if cmd.name in {"operatori", "revoca_operatore"}:
            listed = tuple(
                OperatorEntry(op.id or 0, coop_row.name, op.channel, op.external_id, op.is_active)
                for op, coop_row in await staff.operator_rows(session)
            )
            return Staff(role=role, operators=listed)
        if cmd.name in {"cooperative", "invito"}:
            coops = tuple(
                CooperativeEntry(c.id or 0, c.slug, c.name, c.is_active, n) for c, n in await staff.cooperative_rows(session)
            )
            return Staff(role=role, cooperatives=coops)
        return base

    async def apply(self, session: AsyncSession, *, citizen: Citizen, effect: Effect, now: datetime) -> bool:
        """Apply a rights or staff effect; False when it is not one of ours."""
        assert citizen.id is not None
        who = f"citizen:{citizen.id}"
        if isinstance(effect, RightsExercised):
            await routing.audit(session, actor=who, action="data_rights", detail=effect.right, at=effect.at)
        elif isinstance(effect, LanguageChanged):
            if effect.language in LANGUAGES:
                citizen.language = effect.language
        elif isinstance(effect, BroadcastsRefused):
            citizen.broadcasts_refused_at = effect.at
        elif isinstance(effect, BroadcastsAccepted):
            citizen.broadcasts_refused_at = None
        elif isinstance(effect, DataErasureRequested):
            count = await erasure.erase_citizen(session, citizen=citizen, now=effect.at)
            await routing.audit(session, actor=who, action="data_erased", detail=str(count), at=effect.at)
            logger.info("citizen %s erased their data (%s need(s))", citizen.id, count)
        elif isinstance(effect, StaffCommandUsed | RoleGranted | RoleRevoked | OperatorRevoked | InviteCreated | ExportRequested | BroadcastRequested):
            await self._staff_effect(session, citizen, effect, now)
        else:
            return False
        return True

    async def _staff_effect(self, session: AsyncSession, citizen: Citizen, effect: Effect, now: datetime) -> None:
        # Checked again here, in the writing transaction: the engine's guard read the role a moment ago.
        role, coop = await self.role(session, channel=citizen.channel, external_id=citizen.external_id)
        is_operator_export = isinstance(effect, ExportRequested) and role == Role.OPERATOR and effect.cooperative_id == coop
        if role != Role.ADMIN and not is_operator_export:
            logger.warning("citizen %s: staff effect %s refused", citizen.id, type(effect).__name__)
            await routing.audit(session, actor=f"citizen:{citizen.id}", action="command_refused", detail=type(effect).__name__, at=now)
            return
        actor = f"{role.value}:{citizen.id}"
        if isinstance(effect, StaffCommandUsed):
            await routing.audit(session, actor=actor, action="staff_read", detail=effect.command, at=effect.at)
        elif isinstance(effect, RoleGranted):
            done = await staff.grant_admin(session, channel=effect.channel, external_id=effect.external_id, by=actor, now=effect.at)
            await routing.audit(session, actor=actor, action="admin_granted" if done else "admin_already", detail=effect.channel, at=effect.at)
        elif isinstance(effect, RoleRevoked):
            n = await staff.revoke_admin(session, channel=effect.channel, external_id=effect.external_id, by=actor, now=effect.at)
            await routing.audit(session, actor=actor, action="admin_revoked" if n else "admin_not_found", detail=effect.channel, at=effect.at)
        elif isinstance(effect, OperatorRevoked):
            done = await staff.revoke_operator(session, operator_id=effect.operator_id)
            await routing.audit(
                session, actor=actor, action="operator_revoked" if done else "operator_not_found", operator_id=effect.operator_id, at=effect.at
            )
        elif isinstance(effect, InviteCreated):
            await operators.create_invite(
                session, cooperative_id=effect.cooperative_id, code=effect.code, expires_at=effect.at + timedelta(days=7), now=effect.at
            )
            await routing.audit(session, actor=actor, action="invite_created", cooperative_id=effect.cooperative_id, at=effect.at)
        elif isinstance(effect, ExportRequested):
            await self._export(session, citizen, effect, actor)
        elif isinstance(effect, BroadcastRequested):
            await self._broadcast(session, citizen, effect, actor)

    async def _export(self, session: AsyncSession, citizen: Citizen, effect: ExportRequested, actor: str) -> None:
        data = await rows(
            session, since=effect.since, until=effect.until, include_personal=effect.include_personal, cooperative_id=effect.cooperative_id
        )
        scope = "tutte" if effect.cooperative_id is None else f"coop{effect.cooperative_id}"
        stem = f"richieste-{scope}-{effect.since:%Y%m%d}-{effect.until:%Y%m%d}-{effect.at:%Y%m%dT%H%M%S}-{citizen.id}"
        files = write(self.config.export_dir, stem, header(effect.include_personal), data)
        to = Recipient.of_citizen(citizen)
        until = effect.until - timedelta(seconds=1)
        for path, kind, content_type in ((files.csv_path, "CSV", CSV_TYPE), (files.xlsx_path, "Excel", XLSX_TYPE)):
            caption = Reply(Msg("admin.export_caption", {"since": effect.since, "until": until, "rows": files.rows, "kind": kind}))
            await enqueue(session, self.translator, to=to, reply=caption, now=effect.at, attachment=Attachment(str(path), content_type))
        await routing.audit(
            session,
            actor=actor,
            action="export",
            cooperative_id=effect.cooperative_id,
            detail=f"{files.rows} rows{' personal' if effect.include_personal else ''}",
            at=effect.at,
        )

    async def _broadcast(self, session: AsyncSession, citizen: Citizen, effect: BroadcastRequested, actor: str) -> None:
        texts = {
            lang: self.translator.format(Msg("admin.broadcast_header", {"text": effect.text}), lang) for lang in LANGUAGES
        }
        row = await staff.create_broadcast(
            session,
            texts=texts,
            comune_istat=effect.comune_istat,
            category=effect.category,
            requested_channel=citizen.channel,
            requested_by=citizen.external_id,
            now=effect.at,
        )
        await routing.audit(session, actor=actor, action="broadcast", detail=f"#{row.id} {row.recipients} recipients", at=effect.at)
        logger.info("broadcast %s queued for %s citizen(s)", row.id, row.recipients)


def _detail(row: object) -> str:
    parts = [getattr(row, "detail", None), getattr(row, "need_id", None)]
    coop, op = getattr(row, "cooperative_id", None), getattr(row, "operator_id", None)
    if coop is not None:
        parts.append(f"coop {coop}")
    if op is not None:
        parts.append(f"op {op}")
    return " ".join(str(p) for p in parts if p)


async def report_broadcasts(session: AsyncSession, translator: Translator, *, now: datetime) -> int:
    """Tell each admin whose broadcast has no pending row left how it went; returns reports sent.

    "Finished" means every row of the broadcast is sent, delivered, read, failed or held.
    """
    reported = 0
    for row in await staff.unreported_broadcasts(session):
        assert row.id is not None
        tally = await staff.broadcast_tally(session, broadcast_id=row.id)
        if tally.get("pending", 0):
            continue
        sent = tally.get("sent", 0) + tally.get("delivered", 0) + tally.get("read", 0)
        reply = Reply(
            Msg(
                "admin.broadcast_report",
                {"id": row.id, "sent": sent, "failed": tally.get("failed", 0), "held": tally.get("held", 0), "total": row.recipients},
            )
        )
        await enqueue(session, translator, to=Recipient(row.requested_channel, row.requested_by), reply=reply, now=now)
        row.reported_at = now
        reported += 1
    return reported
