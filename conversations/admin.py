"""Admin commands (and `/esporta` for operators): parsed, authorised and answered by pure code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from conversations._text import clean, fold
from conversations.effects import (
    BroadcastRequested,
    Effect,
    ExportRequested,
    InviteCreated,
    OperatorRevoked,
    RoleGranted,
    RoleRevoked,
    StaffCommandUsed,
)
from conversations.engine import Builder, Engine, command_name
from conversations.flow import Flow, Step
from conversations.messages import Inbound, Msg, Reply
from conversations.period import parse_period
from conversations.rights import YES_NO
from conversations.staff import Role, Tally
from conversations.ticket import make_invite_code
from conversations.types import Answer, Answers, Context, Outcome, Retry, State

CONFIRM_FLOW: Final = "conferma"
BROADCAST_FLOW: Final = "annuncio"
STAFF_FLOWS: Final = frozenset({CONFIRM_FLOW, BROADCAST_FLOW})
"""Flows whose answers need the sender's role again (the pipeline reloads it for them)."""

COMMANDS: Final = MappingProxyType(
    {
        "statistiche": ("statistiche", "stats", "statistics"),
        "esporta": ("esporta", "export"),
        "stato_sistema": ("stato_sistema", "sistema", "system"),
        "audit": ("audit",),
        "annuncio": ("annuncio", "broadcast"),
        "nomina_admin": ("nomina_admin", "grant_admin"),
        "revoca_admin": ("revoca_admin", "revoke_admin"),
        "operatori": ("operatori", "operators"),
        "revoca_operatore": ("revoca_operatore", "revoke_operator"),
        "invito": ("invito", "invite"),
        "cooperative": ("cooperative", "cooperatives"),
    }
)
"""Each staff command and the names that call it; the first is the one shown in help and the audit log."""
STAFF_ONLY_EXPORT: Final = frozenset({"esporta"})
"""Commands operators may use too (limited to their cooperative, without personal fields)."""
_BY_NAME: Final = {fold(alias): name for name, aliases in COMMANDS.items() for alias in aliases}

CHANNELS: Final = frozenset({"telegram", "whatsapp", "console"})
MAX_BROADCAST_CHARS: Final = 1000
"""Fits one WhatsApp body (1600) and one Telegram message after the greeting line."""
AUDIT_DEFAULT: Final = 20
AUDIT_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class StaffCommand:
    """``/esporta 2026-11-01 2026-11-30`` -> name="esporta", args=("2026-11-01", "2026-11-30")."""

    name: str
    args: tuple[str, ...] = ()


def parse_staff_command(text: str) -> StaffCommand | None:
    """The staff command a message names, with its arguments, or None (so a citizen's turn loads nothing)."""
    name = command_name(text)
    if name is None or name not in _BY_NAME:
        return None
    return StaffCommand(_BY_NAME[name], tuple(clean(text).lstrip("/").split()[1:]))


def is_admin(inbound: Inbound, ctx: Context) -> bool:
    return ctx.staff.is_admin


def is_staff(inbound: Inbound, ctx: Context) -> bool:
    return ctx.staff.role in {Role.ADMIN, Role.OPERATOR}


def _cmd(b: Builder) -> StaffCommand:
    assert b.inbound is not None
    parsed = parse_staff_command(b.inbound.text or b.inbound.choice or "")
    assert parsed is not None  # the engine dispatched on the same name
    return parsed


def _say(e: Engine, b: Builder, ctx: Context, msgid: str, **params: object) -> None:
    e.inform(b, ctx, Reply(Msg(msgid, params)))


def _used(b: Builder, ctx: Context, name: str) -> None:
    b.effects.append(StaffCommandUsed(command=name, at=ctx.now))


def _tallies(items: tuple[Tally, ...]) -> object:
    if not items:
        return Msg("admin.none")
    return tuple(Msg("admin.tally", {"label": t.label, "count": t.count}) for t in items)


def _hours(value: float | None) -> object:
    return Msg("admin.not_available") if value is None else Msg("admin.hours", {"hours": round(value, 1)})


# --- read-only commands ------------------------------------------------------


def _stats(e: Engine, b: Builder, ctx: Context) -> None:
    s = ctx.staff.stats
    if s is None:
        _say(e, b, ctx, "admin.usage_statistiche")
        return
    _used(b, ctx, "statistiche")
    answered = Msg("admin.tally", {"label": Msg("admin.stats_answered"), "count": s.follow_ups_answered})
    answers = tuple(Msg("admin.tally", {"label": Msg(f"admin.followup_{t.label}"), "count": t.count}) for t in s.follow_up_answers)
    mean: object = Msg("admin.not_available") if s.satisfaction_mean is None else round(s.satisfaction_mean, 1)
    _say(
        e,
        b,
        ctx,
        "admin.stats",
        since=s.since,
        until=s.until,
        total=s.total,
        by_status=tuple(Msg("admin.tally", {"label": Msg(f"status.{t.label}"), "count": t.count}) for t in s.by_status)
        or Msg("admin.none"),
        by_category=_tallies(s.by_category),
        by_comune=_tallies(s.by_comune),
        by_cooperative=_tallies(s.by_cooperative),
        median_claim=_hours(s.median_claim_hours),
        median_resolve=_hours(s.median_resolve_hours),
        follow_ups=s.follow_ups_sent,
        follow_up_answers=(answered, *answers),
        satisfaction_count=s.satisfaction_count,
        satisfaction_mean=mean,
    )


def _system(e: Engine, b: Builder, ctx: Context) -> None:
    s = ctx.staff.system
    assert s is not None  # loaded for every admin asking
    _used(b, ctx, "stato_sistema")
    jobs = tuple(
        Msg("admin.system_job", {"job": name, "at": at if at is not None else Msg("admin.never")}) for name, at in s.jobs
    )
    channels = tuple(
        Msg(
            "admin.system_channel",
            {
                "channel": c.channel,
                "pending": c.pending,
                "failed": c.failed_24h,
                "held": c.held,
                "last": c.last_sent_at if c.last_sent_at is not None else Msg("admin.never"),
            },
        )
        for c in s.channels
    )
    oldest: object = s.oldest_pending_at if s.oldest_pending_at is not None else Msg("admin.none")
    _say(
        e,
        b,
        ctx,
        "admin.system",
        outbox=_tallies(s.outbox),
        oldest=oldest,
        jobs=jobs or Msg("admin.none"),
        channels=channels or Msg("admin.none"),
    )


def audit_size(args: tuple[str, ...]) -> int:
    """How many audit rows `/audit [n]` asks for (20 by default, at most 100)."""
    if args and args[0].isdigit():
        return max(1, min(AUDIT_MAX, int(args[0])))
    return AUDIT_DEFAULT


def _audit(e: Engine, b: Builder, ctx: Context) -> None:
    _used(b, ctx, "audit")
    rows = tuple(
        Msg("admin.audit_item", {"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail})
        for a in ctx.staff.audit
    )
    _say(e, b, ctx, "admin.audit", count=len(rows), items=rows or Msg("admin.none"))


def _operators(e: Engine, b: Builder, ctx: Context) -> None:
    _used(b, ctx, "operatori")
    rows = tuple(
        Msg(
            "admin.operator_item",
            {
                "id": o.id,
                "cooperative": o.cooperative,
                "channel": o.channel,
                "external_id": o.external_id,
                "state": Msg("admin.active" if o.is_active else "admin.revoked"),
            },
        )
        for o in ctx.staff.operators
    )
    _say(e, b, ctx, "admin.operators", items=rows or Msg("admin.none"))


def _cooperatives(e: Engine, b: Builder, ctx: Context) -> None:
    _used(b, ctx, "cooperative")
    rows = tuple(
        Msg(
            "admin.cooperative_item",
            {
                "slug": c.slug,
                "name": c.name,
                "operators": c.operators,
                "state": Msg("admin.active" if c.is_active else "admin.inactive"),
            },
        )
        for c in ctx.staff.cooperatives
    )
    _say(e, b, ctx, "admin.cooperatives", items=rows or Msg("admin.none"))


# --- commands that change something ------------------------------------------


def _export(e: Engine, b: Builder, ctx: Context) -> None:
    period = parse_period(_cmd(b).args, ctx.now)
    if period is None:
        _say(e, b, ctx, "admin.usage_esporta")
        return
    since, until = period
    staff = ctx.staff
    b.effects.append(
        ExportRequested(
            since=since,
            until=until,
            include_personal=staff.is_admin,
            cooperative_id=None if staff.is_admin else staff.cooperative_id,
            at=ctx.now,
        )
    )
    _say(e, b, ctx, "admin.export_sent" if staff.is_admin else "admin.export_sent_operator", since=since, until=until - timedelta(seconds=1))


def _invite(e: Engine, b: Builder, ctx: Context) -> None:
    args = _cmd(b).args
    slug = fold(args[0]).replace(" ", "-") if args else ""
    coop = next((c for c in ctx.staff.cooperatives if c.slug == slug), None)
    if coop is None or not coop.is_active:
        _say(e, b, ctx, "admin.usage_invito")
        return
    code = make_invite_code(bytes.fromhex(ctx.new_id)[:8] if len(ctx.new_id) >= 16 else ctx.new_id.encode().ljust(8, b"0"))
    b.effects.append(InviteCreated(cooperative_id=coop.id, code=code.replace("-", ""), at=ctx.now))
    _say(e, b, ctx, "admin.invite_created", code=code, cooperative=coop.name)


def _confirm(e: Engine, b: Builder, ctx: Context, action: Mapping[str, object], summary: Msg) -> None:
    """Start the confirmation flow; nothing changes until the admin answers yes."""
    flow = e.flows[CONFIRM_FLOW]
    answers = {"action": dict(action), "summary": {"id": summary.id, "params": dict(summary.params)}}
    b.state = State(flow_id=flow.id, flow_version=flow.version, version=b.state.version, answers=MappingProxyType(answers))
    e.enter(b, flow, flow.first, ctx)


def _identity(args: tuple[str, ...]) -> tuple[str, str] | None:
    if len(args) != 2 or fold(args[0]) not in CHANNELS or not 0 < len(args[1]) <= 64:
        return None
    return fold(args[0]), args[1]


def _grant(e: Engine, b: Builder, ctx: Context) -> None:
    who = _identity(_cmd(b).args)
    if who is None:
        _say(e, b, ctx, "admin.usage_nomina_admin")
        return
    action = {"kind": "grant_admin", "channel": who[0], "external_id": who[1]}
    _confirm(e, b, ctx, action, Msg("admin.confirm_grant", {"channel": who[0], "external_id": who[1]}))


def _revoke(e: Engine, b: Builder, ctx: Context) -> None:
    who = _identity(_cmd(b).args)
    if who is None:
        _say(e, b, ctx, "admin.usage_revoca_admin")
        return
    action = {"kind": "revoke_admin", "channel": who[0], "external_id": who[1]}
    _confirm(e, b, ctx, action, Msg("admin.confirm_revoke", {"channel": who[0], "external_id": who[1]}))


def _revoke_operator(e: Engine, b: Builder, ctx: Context) -> None:
    args = _cmd(b).args
    wanted = int(args[0]) if args and args[0].isdigit() else -1
    op = next((o for o in ctx.staff.operators if o.id == wanted and o.is_active), None)
    if op is None:
        _say(e, b, ctx, "admin.usage_revoca_operatore")
        return
    action = {"kind": "revoke_operator", "operator_id": op.id}
    _confirm(e, b, ctx, action, Msg("admin.confirm_revoke_operator", {"id": op.id, "cooperative": op.cooperative}))


def _announce(e: Engine, b: Builder, ctx: Context) -> None:
    args = _cmd(b).args
    answers: dict[str, object] = {"comune": None, "comune_name": None, "category": None, "category_label": None}
    if args:
        kind, rest = fold(args[0]), " ".join(args[1:])
        if kind == "comune" and rest:
            found = ctx.gazetteer.lookup(rest)
            if not found.candidates or not found.is_exact:
                _say(e, b, ctx, "admin.usage_annuncio")
                return
            answers.update(comune=found.candidates[0].istat_code, comune_name=found.candidates[0].name)
        elif kind == "categoria" and rest:
            cat = next((c for c in ctx.categories if fold(rest) in {fold(c.slug), fold(c.label)}), None)
            if cat is None:
                _say(e, b, ctx, "admin.usage_annuncio")
                return
            answers.update(category=cat.slug, category_label=cat.label)
        else:
            _say(e, b, ctx, "admin.usage_annuncio")
            return
    flow = e.flows[BROADCAST_FLOW]
    b.state = State(flow_id=flow.id, flow_version=flow.version, version=b.state.version, answers=MappingProxyType(answers))
    e.enter(b, flow, flow.first, ctx)


def broadcast_filters(answers: Answers) -> tuple[str | None, str | None]:
    """The (comune ISTAT code, category slug) an announcement in preparation is limited to."""
    comune, category = answers.get("comune"), answers.get("category")
    return (comune if isinstance(comune, str) else None, category if isinstance(category, str) else None)


def _filter_msg(answers: Answers) -> Msg:
    if answers.get("comune_name"):
        return Msg("admin.filter_comune", {"comune": answers["comune_name"]})
    if answers.get("category_label"):
        return Msg("admin.filter_category", {"category": answers["category_label"]})
    return Msg("admin.filter_all")


def _parse_broadcast(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)
    if not text or len(text) > MAX_BROADCAST_CHARS:
        return Retry("admin.broadcast_retry_text", {"max": MAX_BROADCAST_CHARS})
    return text


def _preview(answers: Answers, ctx: Context) -> Msg:
    return Msg(
        "admin.broadcast_preview",
        {"text": answers.get("text", ""), "recipients": ctx.staff.recipients, "filter": _filter_msg(answers)},
    )


def _broadcast_send(answers: Answers, ctx: Context) -> Outcome:
    if not ctx.staff.is_admin:  # revoked while preparing it
        return Outcome(replies=(Reply(Msg("admin.nothing_changed")),))
    comune, category = broadcast_filters(answers)
    effect = BroadcastRequested(text=str(answers["text"]), comune_istat=comune, category=category, at=ctx.now)
    return Outcome(
        replies=(Reply(Msg("admin.broadcast_queued", {"recipients": ctx.staff.recipients})),), effects=(effect,)
    )


def _nothing(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("admin.nothing_changed")),))


def _confirm_prompt(answers: Answers, ctx: Context) -> Msg:
    summary = answers.get("summary")
    assert isinstance(summary, Mapping)
    return Msg("admin.confirm", {"summary": Msg(str(summary["id"]), dict(summary["params"]))})


ACTIONS: Final[Mapping[str, Callable[[Mapping[str, object], Context], Effect]]] = MappingProxyType(
    {
        "grant_admin": lambda a, ctx: RoleGranted(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        "revoke_admin": lambda a, ctx: RoleRevoked(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        "revoke_operator": lambda a, ctx: OperatorRevoked(int(str(a["operator_id"])), ctx.now),
    }
)
"""What a confirmed action becomes: the flow stores plain JSON, the effect is built at the last moment."""


def _confirmed(answers: Answers, ctx: Context) -> Outcome:
    action = answers.get("action")
    if not ctx.staff.is_admin or not isinstance(action, Mapping) or action.get("kind") not in ACTIONS:
        return _nothing(answers, ctx)
    effect = ACTIONS[str(action["kind"])](action, ctx)
    return Outcome(replies=(Reply(Msg("admin.done")),), effects=(effect,))


def build_confirm(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        CONFIRM_FLOW,
        1,
        (
            Step(
                "confirm",
                prompt=_confirm_prompt,
                options=YES_NO,
                next=lambda v, a: "end.yes" if v == "si" else "end.no",
                help="admin.help_confirm",
                retry="common.retry_choice",
            ),
        ),
        endings={"end.yes": _confirmed, "end.no": _nothing},
        targets={"confirm": ("end.yes", "end.no")},
        known_msgids=known_msgids,
    )


def build_broadcast(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        BROADCAST_FLOW,
        1,
        (
            Step(
                "text",
                prompt=lambda a, ctx: Msg("admin.broadcast_ask_text", {"filter": _filter_msg(a), "max": MAX_BROADCAST_CHARS}),
                parse=_parse_broadcast,
                save_as="text",
                next="confirm",
                help="admin.help_broadcast_text",
            ),
            Step(
                "confirm",
                prompt=_preview,
                options=YES_NO,
                next=lambda v, a: "end.send" if v == "si" else "end.cancel",
                help="admin.help_confirm",
                retry="common.retry_choice",
            ),
        ),
        endings={"end.send": _broadcast_send, "end.cancel": _nothing},
        targets={"confirm": ("end.send", "end.cancel")},
        known_msgids=known_msgids,
    )


HANDLERS: Final = MappingProxyType(
    {
        "statistiche": _stats,
        "esporta": _export,
        "stato_sistema": _system,
        "audit": _audit,
        "annuncio": _announce,
        "nomina_admin": _grant,
        "revoca_admin": _revoke,
        "operatori": _operators,
        "revoca_operatore": _revoke_operator,
        "invito": _invite,
        "cooperative": _cooperatives,
    }
)


def register(engine: Engine) -> None:
    """Add the staff commands with their guards; a refused one is answered as an unknown command."""
    for name, aliases in COMMANDS.items():
        guard = is_staff if name in STAFF_ONLY_EXPORT else is_admin
        engine.command(*aliases, allowed=guard)(HANDLERS[name])
