"""Confirm-only commands, as data: each row checks its arguments, says what will happen, and builds the effect on "sì".

``/nomina_admin telegram 42`` → "Stai per fare questo: Nominare amministratore telegram 42. Confermi?" →
"sì" → `RoleGranted`. Nothing changes before "sì"; the flow stores plain JSON (the row's `kind` and
its fields), and the effect is built from it at the last moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from conversations.channels import Channel
from conversations._text import MAX_ROW_ID, fold, small_int
from conversations.admin.categories import active_count, find_category
from conversations.admin.common import command_on, confirmed_flow, done, nothing, one_arg, start_flow
from conversations.command import ArgsCheck, CommandSpec, Reads
from conversations.effects import (
    CategoryDisabled,
    CategoryMoved,
    CooperativeDeactivated,
    Effect,
    OperatorRevoked,
    RoleGranted,
    RoleRevoked,
)
from conversations.engine import Builder, Engine
from conversations.flow import Flow, FlowError
from conversations.messages import Msg
from conversations.vocabulary import Role
from conversations.types import Answers, Context, Outcome

CONFIRM_FLOW: Final = "conferma"
"""Where an admin can be named: the channels with a chat."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a confirm-only command would do, from its checked arguments."""

    fields: Mapping[str, object]
    """Stored with the action's kind; `Confirmable.effect` reads them back on "sì"."""
    shown: Mapping[str, object]
    """The params of the row's summary."""


Propose = Callable[[tuple[str, ...], Context], Proposal | None]
BuildEffect = Callable[[Mapping[str, object], Context], Effect]


@dataclass(frozen=True, slots=True)
class Confirmable:
    """One confirm-only command, whole: its names, how its arguments become an action, its summary, its effect."""

    name: str
    aliases: tuple[str, ...]
    kind: str
    """The action's name in stored answers, e.g. ``{"kind": "grant_admin", "channel": …}``: never renamed."""
    propose: Propose
    """None when the arguments do not check out: the admin gets the `usage` text."""
    summary: str
    effect: BuildEffect
    usage: str
    reads: tuple[Reads, ...] = ()
    words: ArgsCheck | None = None
    """A stricter WhatsApp word rule than "`propose` accepts the arguments"."""
    usage_params: Callable[[Context], Mapping[str, object]] | None = None

    def ask(self, e: Engine, b: Builder, ctx: Context, proposal: Proposal) -> None:
        """Start the confirmation flow; nothing changes until the admin answers yes."""
        action = {"kind": self.kind, **proposal.fields}
        start_flow(e, b, ctx, CONFIRM_FLOW, {"action": action, "summary": {"id": self.summary, "params": dict(proposal.shown)}})

    @property
    def spec(self) -> CommandSpec:
        """The row as the engine sees it: a command on what `propose` makes of its arguments."""
        return command_on(
            self.name, self.aliases, self.ask, target=self.propose, usage=self.usage,
            usage_params=self.usage_params, words=self.words, reads=self.reads,
        )


def _identity(args: tuple[str, ...], ctx: Context) -> Proposal | None:
    """``CANALE ID``: the person an admin role is given to or taken from."""
    if len(args) != 2 or Channel.named(fold(args[0])) is None or not 0 < len(args[1]) <= 64:
        return None
    who = {"channel": fold(args[0]), "external_id": args[1]}
    return Proposal(who, who)


def _active_operator(args: tuple[str, ...], ctx: Context) -> Proposal | None:
    wanted = small_int(args[0], MAX_ROW_ID) if len(args) == 1 else None
    op = next((o for o in ctx.staff.operators if o.id == wanted and o.is_active), None)
    return None if op is None else Proposal({"operator_id": op.id}, {"id": op.id, "cooperative": op.cooperative})


def _move(args: tuple[str, ...], ctx: Context) -> Proposal | None:
    """``SLUG N``: an active category and its new position (1..active ones)."""
    cat = find_category(ctx, args[0], active_only=True) if len(args) == 2 else None
    position = small_int(args[1], active_count(ctx), minimum=1) if cat is not None else None
    if cat is None or position is None:
        return None
    return Proposal({"slug": cat.slug, "position": position}, {"name": cat.name_it, "position": position})


def _disable(args: tuple[str, ...], ctx: Context) -> Proposal | None:
    """``SLUG``: an active category, unless it is the last one left."""
    cat = find_category(ctx, args[0], active_only=True) if len(args) == 1 else None
    if cat is None or active_count(ctx) < 2:
        return None
    return Proposal({"slug": cat.slug}, {"name": cat.name_it})


def _deactivate(args: tuple[str, ...], ctx: Context) -> Proposal | None:
    """The active cooperative the first argument names (the reader loaded it)."""
    coop = ctx.staff.cooperative
    if coop is None or not coop.is_active:
        return None
    return Proposal({"slug": coop.slug}, {"name": coop.name, "slug": coop.slug})


CONFIRMED: Final[tuple[Confirmable, ...]] = (
    Confirmable(
        "nomina_admin", ("grant_admin",), kind="grant_admin", propose=_identity, summary="admin.confirm_grant",
        effect=lambda a, ctx: RoleGranted(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        usage="admin.usage_nomina_admin",
    ),
    Confirmable(
        "revoca_admin", ("revoke_admin",), kind="revoke_admin", propose=_identity, summary="admin.confirm_revoke",
        effect=lambda a, ctx: RoleRevoked(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        usage="admin.usage_revoca_admin",
    ),
    Confirmable(
        "revoca_operatore", ("revoke_operator",), kind="revoke_operator", propose=_active_operator,
        summary="admin.confirm_revoke_operator", effect=lambda a, ctx: OperatorRevoked(int(str(a["operator_id"])), ctx.now),
        usage="admin.usage_revoca_operatore", reads=(Reads.OPERATORS,),
    ),
    Confirmable(
        "sposta_categoria", ("move_category",), kind="move_category", propose=_move, summary="admin.confirm_category_move",
        effect=lambda a, ctx: CategoryMoved(str(a["slug"]), int(str(a["position"])), ctx.now),
        usage="admin.usage_sposta_categoria", usage_params=lambda ctx: {"count": active_count(ctx)}, reads=(Reads.CATEGORIES,),
    ),
    Confirmable(
        "disattiva_categoria", ("disable_category",), kind="disable_category", propose=_disable,
        summary="admin.confirm_category_disable", effect=lambda a, ctx: CategoryDisabled(str(a["slug"]), ctx.now),
        usage="admin.usage_disattiva_categoria", reads=(Reads.CATEGORIES,),
    ),
    Confirmable(
        "disattiva_cooperativa", ("deactivate_cooperative",), kind="deactivate_cooperative", propose=_deactivate,
        summary="admin.confirm_coop_disable", effect=lambda a, ctx: CooperativeDeactivated(str(a["slug"]), ctx.now),
        usage="admin.usage_disattiva_cooperativa", reads=(Reads.COOPERATIVE,), words=one_arg(_deactivate),
    ),
)
"""Every confirm-only command: name, aliases, stored kind, argument check, summary msgid, effect on "sì", usage msgid."""

ACTIONS: Final[Mapping[str, BuildEffect]] = MappingProxyType({row.kind: row.effect for row in CONFIRMED})
"""What a confirmed action becomes, by its stored kind."""


def _confirm_prompt(answers: Answers, ctx: Context) -> Msg:
    summary = answers.get("summary")
    assert isinstance(summary, Mapping)
    return Msg("admin.confirm", {"summary": Msg(str(summary["id"]), dict(summary["params"]))})


def _confirmed(answers: Answers, ctx: Context) -> Outcome:
    action = answers.get("action")
    if not isinstance(action, Mapping) or action.get("kind") not in ACTIONS:
        return nothing(answers, ctx)
    return done(ACTIONS[str(action["kind"])](action, ctx))


def build_confirm(known_msgids: set[str] | None = None) -> Flow:
    """The one question of the confirm-only commands: "Confermi?" with the row's summary."""
    missing = {m for row in CONFIRMED for m in (row.summary, row.usage)} - (known_msgids or set())
    if known_msgids is not None and missing:
        raise FlowError(f"confirm-only commands use msgids missing from the catalog: {sorted(missing)}")
    return confirmed_flow(CONFIRM_FLOW, 1, (), summary=_confirm_prompt, done=_confirmed, known_msgids=known_msgids)


SPECS: Final[tuple[CommandSpec, ...]] = tuple(row.spec for row in CONFIRMED)
