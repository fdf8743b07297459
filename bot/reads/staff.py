"""What admin commands and flows read: figures, the audit tail, operators, categories, cooperatives."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bot.reads.reading import Reading
from conversations import AuditEntry, CategoryEntry, Context, CooperativeDetail, CooperativeEntry, OperatorEntry
from conversations.admin import audit_size, broadcast_filters, coop_slug_arg
from conversations.period import parse_period
from storage import categories as category_rows
from storage import cooperatives as cooperative_rows
from storage import staff as staff_rows
from storage import stats as figures
from storage.audit import AuditAction
from storage.models import AuditLog, Cooperative


async def stats(r: Reading, ctx: Context) -> Context:
    period = parse_period(r.args, r.now)
    if period is None:
        return ctx
    found = await figures.figures(r.session, since=period[0], until=period[1], language="it")
    return replace(ctx, staff=replace(ctx.staff, stats=found))


async def system(r: Reading, ctx: Context) -> Context:
    return replace(ctx, staff=replace(ctx.staff, system=await figures.system_status(r.session, now=r.now)))


async def audit(r: Reading, ctx: Context) -> Context:
    """The audit tail, named: tickets, cooperatives' slugs and operators' numbers instead of internal ids."""
    tail = await staff_rows.audit_tail(r.session, limit=audit_size(r.args))
    actors = {row.id: _actor(row.actor) for row in tail}
    tickets, slugs, of_operator = await staff_rows.audit_names(
        r.session,
        need_ids={row.need_id for row in tail if row.need_id},
        cooperative_ids={row.cooperative_id for row in tail if row.cooperative_id is not None},
        operator_ids={n for _, n in actors.values() if n is not None} | {row.operator_id for row in tail if row.operator_id is not None},
    )
    entries = tuple(_entry(row, actors[row.id], tickets, slugs, of_operator) for row in tail)
    return replace(ctx, staff=replace(ctx.staff, audit=entries))


async def operators(r: Reading, ctx: Context) -> Context:
    listed = tuple(
        OperatorEntry(op.id or 0, coop.name, op.channel, op.external_id, op.is_active)
        for op, coop in await staff_rows.operator_rows(r.session)
    )
    return replace(ctx, staff=replace(ctx.staff, operators=listed))


async def categories(r: Reading, ctx: Context) -> Context:
    """Active ones numbered 1, 2, 3… as the intake shows them; disabled ones after, numbered 0."""
    rows = await category_rows.every(r.session)
    active = [c for c in rows if c.is_active]
    entries = tuple(
        CategoryEntry(c.slug, c.name_it, c.name_en, i, True, c.words()) for i, c in enumerate(active, start=1)
    ) + tuple(CategoryEntry(c.slug, c.name_it, c.name_en, 0, False, c.words()) for c in rows if not c.is_active)
    return replace(ctx, staff=replace(ctx.staff, categories=entries))


async def cooperatives(r: Reading, ctx: Context) -> Context:
    last = await staff_rows.last_digests(r.session)

    def entry(c: Cooperative, n: int) -> CooperativeEntry:
        at = last.get(c.id or 0)
        return CooperativeEntry(c.id or 0, c.slug, c.name, c.is_active, n, at, at + r.digest_pause if at is not None else None)

    entries = tuple(entry(c, n) for c, n in await staff_rows.cooperative_rows(r.session))
    return replace(ctx, staff=replace(ctx.staff, cooperatives=entries))


async def cooperative(r: Reading, ctx: Context) -> Context:
    """The cooperative the first argument names, in full (None when no cooperative has that slug)."""
    slug = coop_slug_arg(r.args)
    row = await cooperative_rows.by_slug(r.session, slug=slug) if slug else None
    if row is None or row.id is None:
        return ctx
    spec = await cooperative_rows.spec_of(r.session, row=row)
    operators_of = next((n for c, n in await staff_rows.cooperative_rows(r.session) if c.id == row.id), 0)
    detail = CooperativeDetail(
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
    return replace(ctx, staff=replace(ctx.staff, cooperative=detail))


async def audience(r: Reading, ctx: Context) -> Context:
    """How many citizens the announcement being prepared would reach, with its filters."""
    comune, category = broadcast_filters(r.state.answers)
    count = await staff_rows.count_audience(r.session, comune_istat=comune, category=category)
    return replace(ctx, staff=replace(ctx.staff, recipients=count))


_KNOWN_ACTIONS: Final = frozenset(a.value for a in AuditAction)


def _actor(actor: str) -> tuple[str, int | None]:
    """``"operator:3"`` → ("operator", 3): an operator's number; any other role's id is not shown."""
    role, _, number = actor.partition(":")
    return role, int(number) if role == "operator" and number.isdigit() else None


def _entry(
    row: AuditLog, actor: tuple[str, int | None], tickets: dict[str, str], slugs: dict[int, str], of_operator: dict[int, str]
) -> AuditEntry:
    role, by_operator = actor
    is_status = row.action == AuditAction.STATUS_CHANGED
    return AuditEntry(
        at=row.at,
        action=row.action,
        actor=role,
        by_operator=by_operator,
        by_cooperative=of_operator.get(by_operator) if by_operator is not None else None,
        ticket=tickets.get(row.need_id) if row.need_id else None,
        cooperative=slugs.get(row.cooperative_id) if row.cooperative_id is not None else None,
        operator=row.operator_id,
        status=row.detail if is_status else None,
        detail="" if is_status else row.detail or "",
        is_known=row.action in _KNOWN_ACTIONS,
    )
