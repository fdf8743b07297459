"""What operator commands read: an invite, a page of open needs, one need as this operator may see it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from math import ceil

from bot.reads.reading import Reading
from conversations import AssignmentStatus, Context, HistoryItem, InviteView, NeedStatus, NeedView, OperatorCommand, Reads, ThreadItem
from conversations.operator import asked_page
from conversations.ticket import compact_code
from storage import audit, cooperatives, operators, routing, threads, voice
from storage.models import Category, ComuneRow, Need

INVITE_WINDOW = timedelta(hours=1)
"""Refused invite codes count for this long (`[operators] invite_attempts_per_hour`)."""


def _command(r: Reading) -> OperatorCommand:
    parsed = r.call.parsed if r.call is not None else None
    return parsed if isinstance(parsed, OperatorCommand) else OperatorCommand("")


async def invite(r: Reading, ctx: Context) -> Context:
    code = _command(r).code
    if not code:
        return ctx
    refused = await operators.invite_refusals(
        r.session, channel=r.event.channel, external_id=r.event.sender, since=r.now - INVITE_WINDOW
    )
    if refused >= r.invite_attempts:  # guessing: the code is not even looked up
        return replace(ctx, desk=replace(ctx.desk, invite_locked=True))
    hit = await operators.invite_with_cooperative(r.session, code=compact_code(code))
    if hit is None:
        return ctx
    inv, coop = hit
    assert coop.id is not None
    view = InviteView(
        code=inv.code,
        cooperative_id=coop.id,
        cooperative_name=coop.name,
        role=inv.role,
        expires_at=inv.expires_at,
        is_used=inv.used_at is not None,
    )
    return replace(ctx, desk=replace(ctx.desk, invite=view))


async def need_list(r: Reading, ctx: Context) -> Context:
    operator = ctx.desk.operator
    assert operator is not None  # the source admits operators only
    page = asked_page(_command(r).arg) or 1
    total, rows = await routing.open_needs(
        r.session, cooperative_id=operator.cooperative_id, offset=(page - 1) * r.page_size, limit=r.page_size
    )
    if not rows and total > 0:  # past the last page ("/richieste 2" of one page): the last one instead
        page = ceil(total / r.page_size)
        total, rows = await routing.open_needs(
            r.session, cooperative_id=operator.cooperative_id, offset=(page - 1) * r.page_size, limit=r.page_size
        )
    items = tuple(
        need_view(n, comune, category, r.sender.language, is_ours=n.claimed_by_cooperative_id == operator.cooperative_id)
        for n, comune, category in rows
    )
    return replace(ctx, desk=replace(ctx.desk, open_needs=items, open_total=total, page=page))


async def need(r: Reading, ctx: Context) -> Context:
    """The need the ticket names, only when routed to or claimed by this operator's cooperative.

    The phone is shown only to the cooperative that holds the need, or in the reply to a
    winning claim (`Reads.NEED_PHONE`); history and notes only to the cooperative that holds it.
    """
    operator = ctx.desk.operator
    assert operator is not None
    code = _command(r).code
    row = await routing.by_ticket(r.session, ticket=code) if code else None
    if row is None:
        return ctx
    is_ours = row.claimed_by_cooperative_id == operator.cooperative_id
    offered = await routing.assignment_status(r.session, need_id=row.id, cooperative_id=operator.cooperative_id)
    if not is_ours and offered in (None, AssignmentStatus.TRANSFERRED):
        return ctx  # access follows the current assignment: a cooperative that passed the need on sees nothing
    comune, category = await routing.comune_and_category(r.session, need=row)
    claimed_by = None
    if row.claimed_by_cooperative_id is not None:
        names = await cooperatives.names(r.session, ids=[row.claimed_by_cooperative_id])
        claimed_by = names.get(row.claimed_by_cooperative_id)
    history: tuple[HistoryItem, ...] = ()
    view_thread: tuple[ThreadItem, ...] = ()  # the thread too: only the holder takes part (docs/privacy.md)
    # Notes name people and doorbells ("Ho chiamato la signora…"): they never leave the database
    # for a cooperative that was only offered the need, declined it, or lost the claim.
    if Reads.NEED_HISTORY in r.reads and is_ours:
        history = tuple(HistoryItem(*item) for item in await routing.history(r.session, need_id=row.id))
        view_thread = tuple(ThreadItem(at, direction, text) for at, direction, text in await threads.of_need(r.session, need_id=row.id))
    view = need_view(
        row,
        comune,
        category,
        r.sender.language,
        is_ours=is_ours,
        is_offered=offered == AssignmentStatus.ROUTED,
        claimed_by=claimed_by,
        history=history,
        show_phone=is_ours or Reads.NEED_PHONE in r.reads,
        voice_notes=tuple(await voice.of_need(r.session, need_id=row.id)),
    )
    if is_ours:  # the citizen's rating and comment, like the notes, only for the cooperative that holds it
        view = replace(view, satisfaction=row.satisfaction, satisfaction_comment=row.satisfaction_comment)
        if row.status == NeedStatus.CLOSED and row.id is not None:
            withdrawn = await audit.was_recorded(r.session, action=audit.AuditAction.NEED_WITHDRAWN, need_id=row.id)
            view = replace(view, is_withdrawn=withdrawn)
    return replace(ctx, desk=replace(ctx.desk, need=replace(view, thread=view_thread)))


def need_view(
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
    voice_notes: tuple[str | None, ...] = (),
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
        is_erased=need.anonymised_at is not None,
        voice_notes=voice_notes,
    )
