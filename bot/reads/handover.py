"""What `/assegna` and `/trasferisci` read (any need for an admin, the cooperative a slug names), and
whether anyone covers the need a citizen is confirming."""

from __future__ import annotations

from dataclasses import replace

from bot.reads.desk import need_view
from bot.reads.reading import Reading
from conversations import Context, OperatorCommand, TargetView
from storage import cooperatives, operators, routing


def _command(r: Reading) -> OperatorCommand:
    parsed = r.call.parsed if r.call is not None else None
    return parsed if isinstance(parsed, OperatorCommand) else OperatorCommand("")


async def any_need(r: Reading, ctx: Context) -> Context:
    """The need the ticket names, whoever holds it: admins only, and without phone, history or notes."""
    code = _command(r).code
    row = await routing.by_ticket(r.session, ticket=code) if code else None
    if row is None:
        return ctx
    comune, category = await routing.comune_and_category(r.session, need=row)
    holder = row.claimed_by_cooperative_id
    claimed_by = (await cooperatives.names(r.session, ids=[holder])).get(holder) if holder is not None else None
    view = need_view(row, comune, category, r.sender.language, is_ours=False, claimed_by=claimed_by)
    return replace(ctx, desk=replace(ctx.desk, need=view))


async def target(r: Reading, ctx: Context) -> Context:
    """The cooperative the slug after the ticket names, and what it already had of that need."""
    slug = _command(r).arg
    coop = await cooperatives.by_slug(r.session, slug=slug) if slug else None
    if coop is None or coop.id is None:
        return ctx
    need = ctx.desk.need  # read first (`Reads` load in order: the need before its target)
    had = await routing.assignment_status(r.session, need_id=need.id, cooperative_id=coop.id) if need is not None else None
    staff = await operators.of_cooperatives(r.session, cooperative_ids=[coop.id])
    view = TargetView(id=coop.id, slug=coop.slug, name=coop.name, is_active=coop.is_active, operators=len(staff), had=had)
    return replace(ctx, desk=replace(ctx.desk, target=view))


async def coverage(r: Reading, ctx: Context) -> Context:
    """At the intake's confirmation: whether the need would reach an active cooperative."""
    comune, category = r.state.answers.get("comune"), r.state.answers.get("category")
    if not isinstance(comune, dict) or not isinstance(category, str):
        return ctx
    found = await routing.matching_cooperatives(r.session, comune_istat=str(comune.get("istat", "")), category=category)
    return replace(ctx, covered=bool(found))
