"""The admin side of the pipeline: who is staff, what their command reads, and applying what they confirmed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports import CSV_TYPE, XLSX_TYPE, header, rows, write
from bot.notify import Attachment, Recipient, enqueue
from conversations import (
    WORD_CHANNELS,
    AuditEntry,
    BroadcastRequested,
    BroadcastsAccepted,
    BroadcastsRefused,
    CategoryAdded,
    CategoryDisabled,
    CategoryEntry,
    CategoryMoved,
    CategoryRenamed,
    CooperativeDeactivated,
    CooperativeDetail,
    CooperativeEntry,
    CooperativeSaved,
    DataErasureRequested,
    DigestRequested,
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
    StaffCommand,
    StaffCommandUsed,
    State,
    TerritoryKind,
    Translator,
)
from conversations.admin import (
    BROADCAST_FLOW,
    CATEGORY_COMMANDS,
    CATEGORY_FLOW,
    COOP_DETAIL_COMMANDS,
    COOP_FLOW,
    STAFF_FLOWS,
    audit_size,
    broadcast_filters,
    coop_slug_arg,
    parse_staff_command,
)
from conversations.period import parse_period
from storage import audit, categories, cooperatives, erasure, operators, staff, stats
from storage.audit import AuditAction
from conversations.coop_rules import DEFAULT_DIGEST, DEFAULT_TIMEZONE
from storage.cooperatives import CooperativeSpec
from storage.models import Citizen

logger = logging.getLogger(__name__)

LANGUAGES = ("it", "en")


@dataclass(frozen=True, slots=True)
class StaffConfig:
    """The admins of `[admin]` (always admins, not revocable from the chat) and where exports go."""

    admins: frozenset[tuple[str, str]] = frozenset()
    export_dir: Path = Path("var/exports")
    invite_days: int = 7
    """How long an invite code from `/invito` stays valid (`[operators] invite_days`)."""


CATEGORY_EFFECTS = (CategoryAdded, CategoryRenamed, CategoryMoved, CategoryDisabled)
"""Effects after whose commit the pipeline forgets its cached categories."""


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
        """Nothing for a citizen's ordinary turn: one parse, no query.

        An admin in a staff flow gets the flow's data even when the message also looks like a
        command: it may be the flow's answer ("Annuncio: domenica…" as an announcement's text,
        on WhatsApp) or a command whose reply asks the flow's question again.
        """
        cmd = parse_staff_command(event.text or event.choice or "", with_arguments=event.channel in WORD_CHANNELS)
        if cmd is None and state.flow_id not in STAFF_FLOWS:
            return Staff()
        role, coop = await self.role(session, channel=event.channel, external_id=event.sender)
        if role != Role.ADMIN:
            return Staff(role=role, cooperative_id=coop)
        base = await _for_flow(session, Staff(role=role), state)
        return base if cmd is None else await _for_command(session, base, cmd, now)

    async def apply(self, session: AsyncSession, *, citizen: Citizen, effect: Effect, now: datetime) -> bool:
        """Apply a rights or staff effect; False when it is not one of ours."""
        assert citizen.id is not None
        who = f"citizen:{citizen.id}"
        if isinstance(effect, RightsExercised):
            await audit.record(session, actor=who, action=AuditAction.DATA_RIGHTS, detail=effect.right, at=effect.at)
        elif isinstance(effect, LanguageChanged):
            if effect.language in LANGUAGES:
                citizen.language = effect.language
        elif isinstance(effect, BroadcastsRefused):
            citizen.broadcasts_refused_at = effect.at
        elif isinstance(effect, BroadcastsAccepted):
            citizen.broadcasts_refused_at = None
        elif isinstance(effect, DataErasureRequested):
            count = await erasure.erase_citizen(session, citizen=citizen, now=effect.at)
            await audit.record(session, actor=who, action=AuditAction.DATA_ERASED, detail=str(count), at=effect.at)
            logger.info("citizen %s erased their data (%s need(s))", citizen.id, count)
        elif isinstance(
            effect,
            StaffCommandUsed
            | RoleGranted
            | RoleRevoked
            | OperatorRevoked
            | InviteCreated
            | ExportRequested
            | BroadcastRequested
            | CategoryAdded
            | CategoryRenamed
            | CategoryMoved
            | CategoryDisabled
            | CooperativeSaved
            | CooperativeDeactivated,
        ):
            await self._staff_effect(session, citizen, effect, now)
        else:
            return False
        return True

    async def request_digest(self, session: AsyncSession, *, citizen: Citizen, effect: DigestRequested, now: datetime) -> bool:
        """Audit a `/digest_ora`; True when the sender is still an admin, so the pipeline sends it after commit."""
        return await self._staff_effect(session, citizen, effect, now)

    async def _staff_effect(self, session: AsyncSession, citizen: Citizen, effect: Effect, now: datetime) -> bool:
        # Checked again here, in the writing transaction: the engine's guard read the role a moment ago.
        role, coop = await self.role(session, channel=citizen.channel, external_id=citizen.external_id)
        is_operator_export = isinstance(effect, ExportRequested) and role == Role.OPERATOR and effect.cooperative_id == coop
        if role != Role.ADMIN and not is_operator_export:
            logger.warning("citizen %s: staff effect %s refused", citizen.id, type(effect).__name__)
            await audit.record(session, actor=f"citizen:{citizen.id}", action=AuditAction.COMMAND_REFUSED, detail=type(effect).__name__, at=now)
            return False
        actor = f"{role.value}:{citizen.id}"
        if isinstance(effect, StaffCommandUsed):
            await audit.record(session, actor=actor, action=AuditAction.STAFF_READ, detail=effect.command, at=effect.at)
        elif isinstance(effect, RoleGranted):
            done = await staff.grant_admin(session, channel=effect.channel, external_id=effect.external_id, by=actor, now=effect.at)
            await audit.record(session, actor=actor, action=AuditAction.ADMIN_GRANTED if done else AuditAction.ADMIN_ALREADY, detail=effect.channel, at=effect.at)
        elif isinstance(effect, RoleRevoked):
            n = await staff.revoke_admin(session, channel=effect.channel, external_id=effect.external_id, by=actor, now=effect.at)
            await audit.record(session, actor=actor, action=AuditAction.ADMIN_REVOKED if n else AuditAction.ADMIN_NOT_FOUND, detail=effect.channel, at=effect.at)
        elif isinstance(effect, OperatorRevoked):
            done = await staff.revoke_operator(session, operator_id=effect.operator_id)
            await audit.record(
                session, actor=actor, action=AuditAction.OPERATOR_REVOKED if done else AuditAction.OPERATOR_NOT_FOUND, operator_id=effect.operator_id, at=effect.at
            )
        elif isinstance(effect, InviteCreated):
            await operators.create_invite(
                session, cooperative_id=effect.cooperative_id, code=effect.code, expires_at=effect.at + timedelta(days=self.config.invite_days), now=effect.at
            )
            await audit.record(session, actor=actor, action=AuditAction.INVITE_CREATED, cooperative_id=effect.cooperative_id, at=effect.at)
        elif isinstance(effect, ExportRequested):
            await self._export(session, citizen, effect, actor)
        elif isinstance(effect, BroadcastRequested):
            await self._broadcast(session, citizen, effect, actor)
        elif isinstance(effect, CategoryAdded):
            done = await categories.add(session, slug=effect.slug, name_it=effect.name_it, name_en=effect.name_en)
            await audit.record(session, actor=actor, action=AuditAction.CATEGORY_ADDED if done else AuditAction.CATEGORY_EXISTS, detail=effect.slug, at=effect.at)
        elif isinstance(effect, CategoryRenamed):
            done = await categories.rename(session, slug=effect.slug, name_it=effect.name_it, name_en=effect.name_en)
            await audit.record(session, actor=actor, action=AuditAction.CATEGORY_RENAMED if done else AuditAction.CATEGORY_NOT_FOUND, detail=effect.slug, at=effect.at)
        elif isinstance(effect, CategoryMoved):
            done = await categories.move(session, slug=effect.slug, position=effect.position)
            detail = f"{effect.slug} {effect.position}"
            await audit.record(session, actor=actor, action=AuditAction.CATEGORY_MOVED if done else AuditAction.CATEGORY_NOT_FOUND, detail=detail, at=effect.at)
        elif isinstance(effect, CategoryDisabled):
            done = await categories.disable(session, slug=effect.slug)
            await audit.record(session, actor=actor, action=AuditAction.CATEGORY_DISABLED if done else AuditAction.CATEGORY_NOT_FOUND, detail=effect.slug, at=effect.at)
        elif isinstance(effect, CooperativeSaved | CooperativeDeactivated):
            await self._cooperative(session, effect, actor)
        elif isinstance(effect, DigestRequested):  # applied through `request_digest`
            await audit.record(session, actor=actor, action=AuditAction.DIGEST_REQUESTED, cooperative_id=effect.cooperative_id, at=effect.at)
        return True

    async def _cooperative(self, session: AsyncSession, effect: CooperativeSaved | CooperativeDeactivated, actor: str) -> None:
        """Create, change or deactivate a cooperative through `upsert`, like an import; audited either way."""
        row = await cooperatives.by_slug(session, slug=effect.slug)
        if isinstance(effect, CooperativeSaved) and effect.is_new:
            if row is not None:  # taken by someone else while this admin was answering
                await audit.record(session, actor=actor, action=AuditAction.COOPERATIVE_EXISTS, cooperative_id=row.id, at=effect.at)
                return
            spec = CooperativeSpec(
                slug=effect.slug,
                name=effect.name or effect.slug,
                categories=effect.categories or (),
                territory=tuple((TerritoryKind(k), c) for k, c in effect.territory or ()),
                digest_cron=effect.digest_cron or DEFAULT_DIGEST,
                timezone=effect.timezone or DEFAULT_TIMEZONE,
                language=effect.language if effect.language in LANGUAGES else "it",
            )
            created, _ = await cooperatives.upsert(session, spec=spec, now=effect.at)
            await audit.record(session, actor=actor, action=AuditAction.COOPERATIVE_CREATED, cooperative_id=created.id, at=effect.at)
            logger.info("cooperative %s created by %s", created.id, actor)
            return
        if row is None:
            await audit.record(session, actor=actor, action=AuditAction.COOPERATIVE_NOT_FOUND, at=effect.at)
            return
        spec = await cooperatives.spec_of(session, row=row)
        if isinstance(effect, CooperativeDeactivated):
            spec, action, fields = replace(spec, is_active=False), AuditAction.COOPERATIVE_DEACTIVATED, ""
        else:
            if effect.territory is not None:
                spec = replace(spec, territory=tuple((TerritoryKind(k), c) for k, c in effect.territory))
            if effect.categories is not None:
                spec = replace(spec, categories=effect.categories)
            if effect.digest_cron is not None:
                spec = replace(spec, digest_cron=effect.digest_cron)
            if effect.timezone is not None:
                spec = replace(spec, timezone=effect.timezone)
            if effect.language in LANGUAGES:
                spec = replace(spec, language=effect.language)
            action = AuditAction.COOPERATIVE_EDITED
            edited = (
                ("territory", effect.territory),
                ("categories", effect.categories),
                ("digest", effect.digest_cron),
                ("timezone", effect.timezone),
                ("language", effect.language),
            )
            fields = " ".join(name for name, value in edited if value is not None)
        _, changed = await cooperatives.upsert(session, spec=spec, now=effect.at)
        await audit.record(
            session, actor=actor, action=action if changed else AuditAction.COOPERATIVE_UNCHANGED, cooperative_id=row.id, detail=fields or None, at=effect.at
        )

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
        await audit.record(
            session,
            actor=actor,
            action=AuditAction.EXPORT,
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
        await audit.record(session, actor=actor, action=AuditAction.BROADCAST, detail=f"#{row.id} {row.recipients} recipients", at=effect.at)
        logger.info("broadcast %s queued for %s citizen(s)", row.id, row.recipients)


async def _for_flow(session: AsyncSession, base: Staff, state: State) -> Staff:
    """What the staff flow in progress reads: categories, cooperatives, or the announcement's audience."""
    if state.flow_id == CATEGORY_FLOW:
        return replace(base, categories=await _categories(session))
    if state.flow_id == COOP_FLOW:
        return replace(base, cooperatives=await _cooperatives(session))
    if state.flow_id == BROADCAST_FLOW:
        comune, category = broadcast_filters(state.answers)
        return replace(base, recipients=await staff.count_audience(session, comune_istat=comune, category=category))
    return base


async def _for_command(session: AsyncSession, base: Staff, cmd: StaffCommand, now: datetime) -> Staff:
    """What an admin command reads, on top of `base`."""
    if cmd.name == "statistiche":
        period = parse_period(cmd.args, now)
        if period is None:
            return base
        return replace(base, stats=await stats.figures(session, since=period[0], until=period[1], language="it"))
    if cmd.name == "stato_sistema":
        return replace(base, system=await stats.system_status(session, now=now))
    if cmd.name == "audit":
        tail = await staff.audit_tail(session, limit=audit_size(cmd.args))
        return replace(base, audit=tuple(AuditEntry(a.at, a.actor, a.action, _detail(a)) for a in tail))
    if cmd.name in {"operatori", "revoca_operatore"}:
        listed = tuple(
            OperatorEntry(op.id or 0, coop_row.name, op.channel, op.external_id, op.is_active)
            for op, coop_row in await staff.operator_rows(session)
        )
        return replace(base, operators=listed)
    if cmd.name in CATEGORY_COMMANDS:
        return replace(base, categories=await _categories(session))
    if cmd.name in {"cooperative", "invito", "digest_ora", "nuova_cooperativa"}:
        return replace(base, cooperatives=await _cooperatives(session))
    if cmd.name in COOP_DETAIL_COMMANDS:
        return replace(base, cooperative=await _cooperative(session, coop_slug_arg(cmd.args)))
    return base


async def _categories(session: AsyncSession) -> tuple[CategoryEntry, ...]:
    """Active ones numbered 1, 2, 3… as the intake shows them; disabled ones after, numbered 0."""
    rows = await categories.every(session)
    active = [c for c in rows if c.is_active]
    return tuple(CategoryEntry(c.slug, c.name_it, c.name_en, i, True) for i, c in enumerate(active, start=1)) + tuple(
        CategoryEntry(c.slug, c.name_it, c.name_en, 0, False) for c in rows if not c.is_active
    )


async def _cooperatives(session: AsyncSession) -> tuple[CooperativeEntry, ...]:
    return tuple(CooperativeEntry(c.id or 0, c.slug, c.name, c.is_active, n) for c, n in await staff.cooperative_rows(session))


async def _cooperative(session: AsyncSession, slug: str) -> CooperativeDetail | None:
    """One cooperative in full, or None when no cooperative has this slug."""
    row = await cooperatives.by_slug(session, slug=slug) if slug else None
    if row is None or row.id is None:
        return None
    spec = await cooperatives.spec_of(session, row=row)
    operators_of = next((n for c, n in await staff.cooperative_rows(session) if c.id == row.id), 0)
    return CooperativeDetail(
        id=row.id,
        slug=row.slug,
        name=row.name,
        is_active=row.is_active,
        territory=tuple((str(k), c) for k, c in spec.territory),
        categories=spec.categories,
        digest_cron=row.digest_cron,
        timezone=row.timezone,
        language=row.language,
        operators=operators_of,
    )


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
        # `enqueue` writes through the admin's citizen row (language, WhatsApp's 24-hour window).
        await enqueue(session, translator, to=Recipient(row.requested_channel, row.requested_by), reply=reply, now=now)
        row.reported_at = now
        reported += 1
    return reported
