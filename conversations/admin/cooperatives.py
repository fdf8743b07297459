"""Commands on one cooperative: show, create, edit a field, invite an operator, send its digest now.

Deactivating one is confirm-only (`confirm`); the questions of creating and editing are `coop_flow`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from conversations._text import fold
from conversations.admin.common import command, command_on, one_arg, say, start_flow, state, used
from conversations.admin.coop_flow import COOP_FLOW, language_label, places
from conversations.command import CommandSpec, Reads
from conversations.effects import DigestRequested, InviteCreated
from conversations.engine import Builder, Engine
from conversations.schedule import describe_schedule
from conversations.staff import CooperativeDetail, CooperativeEntry
from conversations.ticket import make_invite_code
from conversations.types import Context

COOP_FIELDS: Final = MappingProxyType(
    {
        "territorio": "territory",
        "territory": "territory",
        "categorie": "categories",
        "categories": "categories",
        "orario": "digest",
        "schedule": "digest",
        "digest": "digest",
        "fuso": "timezone",
        "fuso orario": "timezone",
        "timezone": "timezone",
        "lingua": "language",
        "language": "language",
    }
)
"""`/modifica_cooperativa SLUG FIELD`: the words for each field that can be changed from the chat."""


def coop_slug_arg(args: tuple[str, ...]) -> str:
    """The cooperative slug a command names in its first argument ("" when none)."""
    return fold(args[0]).replace(" ", "-") if args else ""


def _active_coop(args: tuple[str, ...], ctx: Context) -> CooperativeEntry | None:
    """The active cooperative `/invito SLUG` or `/digest_ora SLUG` names."""
    slug = coop_slug_arg(args) if len(args) == 1 else ""
    return next((c for c in ctx.staff.cooperatives if c.slug == slug and c.is_active), None)


def _loaded(args: tuple[str, ...], ctx: Context) -> CooperativeDetail | None:
    """The cooperative the first argument names, loaded in full by the reader (None: no such slug)."""
    return ctx.staff.cooperative


def _coop_show(e: Engine, b: Builder, ctx: Context, coop: CooperativeDetail) -> None:
    used(b, ctx, "cooperativa")
    say(
        e,
        b,
        ctx,
        "admin.cooperative_detail",
        name=coop.name,
        slug=coop.slug,
        state=state(coop.is_active),
        territory=places(ctx, coop.territory),
        categories=", ".join(coop.categories) or "–",
        digest=describe_schedule(coop.digest_cron),
        timezone=coop.timezone,
        language=language_label(coop.language),
        operators=coop.operators,
    )


def _coop_new(e: Engine, b: Builder, ctx: Context) -> None:
    start_flow(e, b, ctx, COOP_FLOW, {"mode": "create"})


def _coop_field(args: tuple[str, ...], ctx: Context) -> tuple[CooperativeDetail, str] | None:
    """The cooperative `/modifica_cooperativa SLUG CAMPO` names and the field it changes, or None."""
    field = COOP_FIELDS.get(fold(args[1])) if len(args) == 2 else None
    coop = ctx.staff.cooperative
    return None if coop is None or field is None else (coop, field)


def _coop_edit(e: Engine, b: Builder, ctx: Context, target: tuple[CooperativeDetail, str]) -> None:
    coop, field = target
    answers = {
        "mode": "edit",
        "field": field,
        "slug": coop.slug,
        "name": coop.name,
        "old_territory": [list(p) for p in coop.territory],
        "old_categories": list(coop.categories),
        "old_digest": coop.digest_cron,
        "old_timezone": coop.timezone,
        "old_language": coop.language,
    }
    start_flow(e, b, ctx, COOP_FLOW, answers)


def _invite(e: Engine, b: Builder, ctx: Context, coop: CooperativeEntry) -> None:
    code = make_invite_code(bytes.fromhex(ctx.new_id)[:8] if len(ctx.new_id) >= 16 else ctx.new_id.encode().ljust(8, b"0"))
    b.effects.append(InviteCreated(cooperative_id=coop.id, code=code.replace("-", ""), at=ctx.now))
    say(e, b, ctx, "admin.invite_created", code=code, cooperative=coop.name)


def _digest_now(e: Engine, b: Builder, ctx: Context, coop: CooperativeEntry) -> None:
    """Refused kindly when nobody would get it, or when the last one went moments ago (issue 15)."""
    if coop.operators == 0:
        say(e, b, ctx, "admin.digest_no_operators", cooperative=coop.name, slug=coop.slug)
        return
    if coop.last_digest_at is not None and coop.digest_again_at is not None and ctx.now < coop.digest_again_at:
        say(e, b, ctx, "admin.digest_too_soon", cooperative=coop.name, last=coop.last_digest_at, again=coop.digest_again_at)
        return
    b.effects.append(DigestRequested(cooperative_id=coop.id, at=ctx.now))
    say(e, b, ctx, "admin.digest_queued", cooperative=coop.name)


SPECS: Final[tuple[CommandSpec, ...]] = (
    command_on(
        "cooperativa",
        ("show_cooperative",),
        _coop_show,
        target=_loaded,
        usage="admin.usage_cooperativa",
        words=one_arg(_loaded),
        reads=(Reads.COOPERATIVE,),
    ),
    command("nuova_cooperativa", ("add_cooperative",), _coop_new, reads=(Reads.COOPERATIVES,)),
    command_on(
        "modifica_cooperativa",
        ("edit_cooperative",),
        _coop_edit,
        target=_coop_field,
        usage="admin.usage_modifica_cooperativa",
        reads=(Reads.COOPERATIVE,),
    ),
    command_on("invito", ("invite",), _invite, target=_active_coop, usage="admin.usage_invito", reads=(Reads.COOPERATIVES,)),
    command_on(
        "digest_ora", ("digest_now",), _digest_now, target=_active_coop, usage="admin.usage_digest_ora", reads=(Reads.COOPERATIVES,)
    ),
)
