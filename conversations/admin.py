"""Admin commands (and `/esporta` for operators): parsed, authorised and answered by pure code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
import re
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from conversations._text import clean, fold
from conversations.channels import Channel
from conversations.effects import (
    BroadcastRequested,
    CategoryAdded,
    CategoryDisabled,
    CategoryMoved,
    CategoryRenamed,
    CooperativeDeactivated,
    CooperativeSaved,
    DigestRequested,
    Effect,
    ExportRequested,
    InviteCreated,
    OperatorRevoked,
    RoleGranted,
    RoleRevoked,
    StaffCommandUsed,
)
from conversations.coop_rules import (
    COOP_SLUG,
    DEFAULT_DIGEST,
    DEFAULT_TIMEZONE,
    MAX_COOP_NAME,
    Territory,
    check_categories,
    check_cron,
    timezone_named,
)
from conversations.command import ArgsCheck, CommandSpec, Handler, Reads, Who
from conversations.engine import Builder, Engine
from conversations.flow import Ending, Flow, Parser, Prompt, Step, take_choice
from conversations.messages import Inbound, Msg, Option, Reply
from conversations.period import parse_period
from conversations.rights import LANGUAGES, YES_NO
from conversations.staff import CategoryEntry, CooperativeEntry, OperatorEntry, Tally
from conversations.ticket import make_invite_code
from conversations.types import Answer, Answers, Context, Outcome, Retry, State
from conversations.vocabulary import Role

CONFIRM_FLOW: Final = "conferma"
BROADCAST_FLOW: Final = "annuncio"
CATEGORY_FLOW: Final = "categoria"
COOP_FLOW: Final = "cooperativa"
MAX_BROADCAST_CHARS: Final = 1000
"""Fits one WhatsApp body (1600) and one Telegram message after the greeting line."""
AUDIT_DEFAULT: Final = 20
AUDIT_MAX: Final = 100
CATEGORY_SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
MAX_CATEGORY_NAME: Final = 80
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


def _args(b: Builder) -> tuple[str, ...]:
    """The words after the command's name, as `Engine.recognise` split them once."""
    assert b.call is not None  # only handlers run by the engine read this
    return b.call.args


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
    period = parse_period(_args(b), ctx.now)
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


def _active_coop(args: tuple[str, ...], ctx: Context) -> CooperativeEntry | None:
    """The active cooperative `/invito SLUG` or `/digest_ora SLUG` names."""
    slug = coop_slug_arg(args) if len(args) == 1 else ""
    return next((c for c in ctx.staff.cooperatives if c.slug == slug and c.is_active), None)


def _invite(e: Engine, b: Builder, ctx: Context) -> None:
    coop = _active_coop(_args(b), ctx)
    if coop is None:
        _say(e, b, ctx, "admin.usage_invito")
        return
    code = make_invite_code(bytes.fromhex(ctx.new_id)[:8] if len(ctx.new_id) >= 16 else ctx.new_id.encode().ljust(8, b"0"))
    b.effects.append(InviteCreated(cooperative_id=coop.id, code=code.replace("-", ""), at=ctx.now))
    _say(e, b, ctx, "admin.invite_created", code=code, cooperative=coop.name)


def _start_flow(e: Engine, b: Builder, ctx: Context, flow_id: str, answers: Mapping[str, object]) -> None:
    """Start a staff flow with what the command already knows (a slug, a filter, the action)."""
    flow = e.flows[flow_id]
    b.state = State(flow_id=flow.id, flow_version=flow.version, version=b.state.version, answers=MappingProxyType(dict(answers)))
    e.enter(b, flow, flow.first, ctx)


def _confirm(e: Engine, b: Builder, ctx: Context, action: Mapping[str, object], summary: Msg) -> None:
    """Start the confirmation flow; nothing changes until the admin answers yes."""
    answers = {"action": dict(action), "summary": {"id": summary.id, "params": dict(summary.params)}}
    _start_flow(e, b, ctx, CONFIRM_FLOW, answers)


def _identity(args: tuple[str, ...]) -> tuple[str, str] | None:
    if len(args) != 2 or Channel.named(fold(args[0])) is None or not 0 < len(args[1]) <= 64:
        return None
    return fold(args[0]), args[1]


def _grant(e: Engine, b: Builder, ctx: Context) -> None:
    who = _identity(_args(b))
    if who is None:
        _say(e, b, ctx, "admin.usage_nomina_admin")
        return
    action = {"kind": "grant_admin", "channel": who[0], "external_id": who[1]}
    _confirm(e, b, ctx, action, Msg("admin.confirm_grant", {"channel": who[0], "external_id": who[1]}))


def _revoke(e: Engine, b: Builder, ctx: Context) -> None:
    who = _identity(_args(b))
    if who is None:
        _say(e, b, ctx, "admin.usage_revoca_admin")
        return
    action = {"kind": "revoke_admin", "channel": who[0], "external_id": who[1]}
    _confirm(e, b, ctx, action, Msg("admin.confirm_revoke", {"channel": who[0], "external_id": who[1]}))


def _active_operator(args: tuple[str, ...], ctx: Context) -> OperatorEntry | None:
    wanted = int(args[0]) if len(args) == 1 and args[0].isdigit() else -1
    return next((o for o in ctx.staff.operators if o.id == wanted and o.is_active), None)


def _revoke_operator(e: Engine, b: Builder, ctx: Context) -> None:
    op = _active_operator(_args(b), ctx)
    if op is None:
        _say(e, b, ctx, "admin.usage_revoca_operatore")
        return
    action = {"kind": "revoke_operator", "operator_id": op.id}
    _confirm(e, b, ctx, action, Msg("admin.confirm_revoke_operator", {"id": op.id, "cooperative": op.cooperative}))


def _audience(args: tuple[str, ...], ctx: Context) -> dict[str, object] | None:
    """Who `/annuncio [comune NOME | categoria NOME]` is for, as the flow's first answers; None when unreadable."""
    answers: dict[str, object] = {"comune": None, "comune_name": None, "category": None, "category_label": None}
    if not args:
        return answers
    kind, rest = fold(args[0]), " ".join(args[1:])
    if kind == "comune" and rest:
        found = ctx.gazetteer.lookup(rest)
        if not found.candidates or not found.is_exact:
            return None
        answers.update(comune=found.candidates[0].istat_code, comune_name=found.candidates[0].name)
        return answers
    if kind == "categoria" and rest:
        cat = next((c for c in ctx.categories if fold(rest) in {fold(c.slug), fold(c.label)}), None)
        if cat is None:
            return None
        answers.update(category=cat.slug, category_label=cat.label)
        return answers
    return None


def _announce(e: Engine, b: Builder, ctx: Context) -> None:
    answers = _audience(_args(b), ctx)
    if answers is None:
        _say(e, b, ctx, "admin.usage_annuncio")
        return
    _start_flow(e, b, ctx, BROADCAST_FLOW, answers)


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
    comune, category = broadcast_filters(answers)
    effect = BroadcastRequested(text=str(answers["text"]), comune_istat=comune, category=category, at=ctx.now)
    return Outcome(
        replies=(Reply(Msg("admin.broadcast_queued", {"recipients": ctx.staff.recipients})),), effects=(effect,)
    )


def _nothing(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("admin.nothing_changed")),))


def _done(effect: Effect) -> Outcome:
    return Outcome(replies=(Reply(Msg("admin.done")),), effects=(effect,))


def _confirmed_flow(
    flow_id: str,
    version: int,
    steps: tuple[Step, ...],
    *,
    summary: Prompt,
    done: Ending,
    known_msgids: set[str] | None,
    reads: tuple[Reads, ...] = (),
) -> Flow:
    """An admin flow: its questions, then "Confermi?". Only "sì" from someone who is still an admin
    reaches `done` (the role may have been revoked while they were answering); "no" changes nothing."""

    def yes(answers: Answers, ctx: Context) -> Outcome:
        return done(answers, ctx) if ctx.staff.is_admin else _nothing(answers, ctx)

    confirm = Step(
        "confirm",
        prompt=summary,
        options=YES_NO,
        next=lambda v, a: "end.yes" if v == "si" else "end.no",
        help="admin.help_confirm",
        retry="common.retry_choice",
    )
    return Flow.build(
        flow_id,
        version,
        (*steps, confirm),
        endings={"end.yes": yes, "end.no": _nothing},
        targets={"confirm": ("end.yes", "end.no")},
        known_msgids=known_msgids,
        who=Who.ADMIN,
        reads=reads,
    )


def _confirm_prompt(answers: Answers, ctx: Context) -> Msg:
    summary = answers.get("summary")
    assert isinstance(summary, Mapping)
    return Msg("admin.confirm", {"summary": Msg(str(summary["id"]), dict(summary["params"]))})


ACTIONS: Final[Mapping[str, Callable[[Mapping[str, object], Context], Effect]]] = MappingProxyType(
    {
        "grant_admin": lambda a, ctx: RoleGranted(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        "revoke_admin": lambda a, ctx: RoleRevoked(Role.ADMIN, str(a["channel"]), str(a["external_id"]), ctx.now),
        "revoke_operator": lambda a, ctx: OperatorRevoked(int(str(a["operator_id"])), ctx.now),
        "move_category": lambda a, ctx: CategoryMoved(str(a["slug"]), int(str(a["position"])), ctx.now),
        "deactivate_cooperative": lambda a, ctx: CooperativeDeactivated(str(a["slug"]), ctx.now),
        "disable_category": lambda a, ctx: CategoryDisabled(str(a["slug"]), ctx.now),
    }
)
"""What a confirmed action becomes: the flow stores plain JSON, the effect is built at the last moment."""


def _confirmed(answers: Answers, ctx: Context) -> Outcome:
    action = answers.get("action")
    if not isinstance(action, Mapping) or action.get("kind") not in ACTIONS:
        return _nothing(answers, ctx)
    return _done(ACTIONS[str(action["kind"])](action, ctx))


def build_confirm(known_msgids: set[str] | None = None) -> Flow:
    """A one-question flow for commands whose action is complete when typed (`_confirm`)."""
    return _confirmed_flow(CONFIRM_FLOW, 1, (), summary=_confirm_prompt, done=_confirmed, known_msgids=known_msgids)


def build_broadcast(known_msgids: set[str] | None = None) -> Flow:
    """The announcement's text, then a preview with the number of recipients."""
    text = Step(
        "text",
        prompt=lambda a, ctx: Msg("admin.broadcast_ask_text", {"filter": _filter_msg(a), "max": MAX_BROADCAST_CHARS}),
        parse=_parse_broadcast,
        save_as="text",
        next="confirm",
        help="admin.help_broadcast_text",
    )
    return _confirmed_flow(
        BROADCAST_FLOW, 1, (text,), summary=_preview, done=_broadcast_send, known_msgids=known_msgids, reads=(Reads.AUDIENCE,)
    )


# --- categories and on-demand digests -------------------------------------------


def _category(ctx: Context, raw: str, *, active_only: bool = False) -> CategoryEntry | None:
    wanted = fold(raw)
    return next(
        (c for c in ctx.staff.categories if fold(c.slug) == wanted and (c.is_active or not active_only)),
        None,
    )


def _categories(e: Engine, b: Builder, ctx: Context) -> None:
    _used(b, ctx, "categorie")
    rows = tuple(
        Msg(
            "admin.category_item",
            {
                "position": c.position,
                "slug": c.slug,
                "name_it": c.name_it,
                "name_en": c.name_en,
                "state": Msg("admin.active" if c.is_active else "admin.inactive"),
            },
        )
        for c in ctx.staff.categories
    )
    _say(e, b, ctx, "admin.categories", items=rows or Msg("admin.none"))


def _category_new(e: Engine, b: Builder, ctx: Context) -> None:
    _start_flow(e, b, ctx, CATEGORY_FLOW, {"mode": "add"})


def _category_rename(e: Engine, b: Builder, ctx: Context) -> None:
    args = _args(b)
    cat = _category(ctx, args[0]) if len(args) == 1 else None
    if cat is None:
        _say(e, b, ctx, "admin.usage_rinomina_categoria")
        return
    _start_flow(e, b, ctx, CATEGORY_FLOW, {"mode": "rename", "slug": cat.slug, "old_it": cat.name_it, "old_en": cat.name_en})


def _move_target(args: tuple[str, ...], ctx: Context) -> tuple[CategoryEntry, int] | None:
    """The active category `/sposta_categoria SLUG N` names and its new position (1..active ones)."""
    cat = _category(ctx, args[0], active_only=True) if len(args) == 2 else None
    active = sum(1 for c in ctx.staff.categories if c.is_active)
    if cat is None or not args[1].isdigit() or not 1 <= int(args[1]) <= active:
        return None
    return cat, int(args[1])


def _category_move(e: Engine, b: Builder, ctx: Context) -> None:
    target = _move_target(_args(b), ctx)
    if target is None:
        _say(e, b, ctx, "admin.usage_sposta_categoria", count=sum(1 for c in ctx.staff.categories if c.is_active))
        return
    cat, position = target
    action = {"kind": "move_category", "slug": cat.slug, "position": position}
    _confirm(e, b, ctx, action, Msg("admin.confirm_category_move", {"name": cat.name_it, "position": position}))


def _disable_target(args: tuple[str, ...], ctx: Context) -> CategoryEntry | None:
    """The active category `/disattiva_categoria SLUG` names, unless it is the last one left."""
    cat = _category(ctx, args[0], active_only=True) if len(args) == 1 else None
    return cat if sum(1 for c in ctx.staff.categories if c.is_active) >= 2 else None


def _category_disable(e: Engine, b: Builder, ctx: Context) -> None:
    cat = _disable_target(_args(b), ctx)
    if cat is None:
        _say(e, b, ctx, "admin.usage_disattiva_categoria")
        return
    action = {"kind": "disable_category", "slug": cat.slug}
    _confirm(e, b, ctx, action, Msg("admin.confirm_category_disable", {"name": cat.name_it}))


def _parse_category_slug(answer: Answer, answers: Answers, ctx: Context) -> object:
    slug = clean(answer.text).lower()
    if not CATEGORY_SLUG.match(slug):
        return Retry("admin.category_retry_slug")
    if any(c.slug == slug for c in ctx.staff.categories):
        return Retry("admin.category_retry_slug_taken", {"slug": slug})
    return slug


def _name_parser(keep: str) -> Callable[[Answer, Answers, Context], object]:
    def parse(answer: Answer, answers: Answers, ctx: Context) -> object:
        text = clean(answer.text)
        if text == "-" and isinstance(answers.get(keep), str):
            return answers[keep]
        if not text or len(text) > MAX_CATEGORY_NAME or text == "-":
            return Retry("admin.category_retry_name", {"max": MAX_CATEGORY_NAME})
        return text

    return parse


def _ask_name(language: str) -> Callable[[Answers, Context], Msg]:
    def prompt(answers: Answers, ctx: Context) -> Msg:
        if answers.get("mode") == "rename":
            return Msg(f"admin.category_ask_name_{language}_keep", {"current": answers.get(f"old_{language}", "")})
        return Msg(f"admin.category_ask_name_{language}", {"slug": answers.get("slug", "")})

    return prompt


def _category_summary(answers: Answers) -> Msg:
    params = {k: answers.get(k, "") for k in ("slug", "name_it", "name_en", "old_it", "old_en")}
    return Msg("admin.confirm_category_rename" if answers.get("mode") == "rename" else "admin.confirm_category_add", params)


def _category_done(answers: Answers, ctx: Context) -> Outcome:
    slug, name_it, name_en = (str(answers.get(k, "")) for k in ("slug", "name_it", "name_en"))
    effect: Effect
    if answers.get("mode") == "rename":
        effect = CategoryRenamed(slug, name_it, name_en, ctx.now)
    else:
        effect = CategoryAdded(slug, name_it, name_en, ctx.now)
    return _done(effect)


def build_category(known_msgids: set[str] | None = None) -> Flow:
    """Add (slug, Italian, English) or rename (Italian, English; "-" keeps a name) a category, then confirm."""
    return _confirmed_flow(
        CATEGORY_FLOW,
        1,
        (
            Step(
                "slug",
                prompt=Msg("admin.category_ask_slug"),
                parse=_parse_category_slug,
                save_as="slug",
                next="name_it",
                skip=lambda a, ctx: bool(a.get("slug")),
                help="admin.help_category_slug",
            ),
            Step("name_it", prompt=_ask_name("it"), parse=_name_parser("old_it"), save_as="name_it", next="name_en", help="admin.help_category_name"),
            Step("name_en", prompt=_ask_name("en"), parse=_name_parser("old_en"), save_as="name_en", next="confirm", help="admin.help_category_name"),
        ),
        summary=lambda a, ctx: Msg("admin.confirm", {"summary": _category_summary(a)}),
        done=_category_done,
        known_msgids=known_msgids,
        reads=(Reads.CATEGORIES,),
    )


def _digest_now(e: Engine, b: Builder, ctx: Context) -> None:
    coop = _active_coop(_args(b), ctx)
    if coop is None:
        _say(e, b, ctx, "admin.usage_digest_ora")
        return
    b.effects.append(DigestRequested(cooperative_id=coop.id, at=ctx.now))
    _say(e, b, ctx, "admin.digest_queued", cooperative=coop.name)


# --- cooperatives ------------------------------------------------------------------


def coop_slug_arg(args: tuple[str, ...]) -> str:
    """The cooperative slug a command names in its first argument ("" when none)."""
    return fold(args[0]).replace(" ", "-") if args else ""


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    """Territory pairs back from the flow's JSON answers (lists) or a `CooperativeDetail` (tuples)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple((str(p[0]), str(p[1])) for p in value if isinstance(p, list | tuple) and len(p) == 2)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _places(ctx: Context, value: object) -> str:
    rules = Territory(ctx.gazetteer)
    return ", ".join(rules.label(k, c) for k, c in _pairs(value)) or "–"


def _coop_show(e: Engine, b: Builder, ctx: Context) -> None:
    coop = ctx.staff.cooperative
    if coop is None:
        _say(e, b, ctx, "admin.usage_cooperativa")
        return
    _used(b, ctx, "cooperativa")
    _say(
        e,
        b,
        ctx,
        "admin.cooperative_detail",
        name=coop.name,
        slug=coop.slug,
        state=Msg("admin.active" if coop.is_active else "admin.inactive"),
        territory=_places(ctx, coop.territory),
        categories=", ".join(coop.categories) or "–",
        digest=coop.digest_cron,
        timezone=coop.timezone,
        language=_language_label(coop.language),
        operators=coop.operators,
    )


def _coop_new(e: Engine, b: Builder, ctx: Context) -> None:
    _start_flow(e, b, ctx, COOP_FLOW, {"mode": "create"})


def _coop_field(args: tuple[str, ...]) -> str | None:
    """The field `/modifica_cooperativa SLUG CAMPO` changes, or None."""
    return COOP_FIELDS.get(fold(args[1])) if len(args) == 2 else None


def _coop_edit(e: Engine, b: Builder, ctx: Context) -> None:
    coop = ctx.staff.cooperative
    field = _coop_field(_args(b))
    if coop is None or field is None:
        _say(e, b, ctx, "admin.usage_modifica_cooperativa")
        return
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
    _start_flow(e, b, ctx, COOP_FLOW, answers)


def _coop_disable(e: Engine, b: Builder, ctx: Context) -> None:
    coop = ctx.staff.cooperative
    if coop is None or not coop.is_active:
        _say(e, b, ctx, "admin.usage_disattiva_cooperativa")
        return
    action = {"kind": "deactivate_cooperative", "slug": coop.slug}
    _confirm(e, b, ctx, action, Msg("admin.confirm_coop_disable", {"name": coop.name, "slug": coop.slug}))


def _skip_unless(field: str) -> Callable[[Answers, Context], bool]:
    """In edit mode only the chosen field is asked; creating asks everything."""
    return lambda a, ctx: a.get("mode") == "edit" and a.get("field") != field


def _creating_only(a: Answers, ctx: Context) -> bool:
    return a.get("mode") == "edit"


def _parse_coop_name(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)
    if not text or len(text) > MAX_COOP_NAME:
        return Retry("admin.coop_retry_name", {"max": MAX_COOP_NAME})
    return text


def _parse_coop_slug(answer: Answer, answers: Answers, ctx: Context) -> object:
    slug = clean(answer.text).lower()
    if not COOP_SLUG.match(slug):
        return Retry("admin.coop_retry_slug")
    if any(c.slug == slug for c in ctx.staff.cooperatives):
        return Retry("admin.coop_retry_slug_taken", {"slug": slug})
    return slug


def _items(text: str) -> list[str]:
    return [i.strip() for i in re.split(r"[,;\n]", clean(text)) if i.strip()]


def _parse_territory(answer: Answer, answers: Answers, ctx: Context) -> object:
    items = _items(answer.text)
    if not items:
        return Retry("admin.coop_retry_territory", {"item": clean(answer.text)})
    rules = Territory(ctx.gazetteer)
    found: list[list[str]] = []
    for item in items:
        got = rules.resolve(item)
        if got.choices:
            choices = tuple(
                Msg("admin.coop_place_choice", {"name": c.name, "province": c.province_code, "code": c.istat_code})
                for c in got.choices
            )
            return Retry("admin.coop_retry_territory_ambiguous", {"item": item, "choices": choices})
        if got.place is None:
            return Retry("admin.coop_retry_territory", {"item": item})
        if list(got.place) not in found:
            found.append(list(got.place))
    return found


def _parse_categories(answer: Answer, answers: Answers, ctx: Context) -> object:
    wanted = list(dict.fromkeys(i.strip().lower() for i in re.split(r"[,;\s]+", clean(answer.text)) if i.strip()))
    known = [c.slug for c in ctx.categories]
    problems = check_categories(wanted, known)
    if not wanted or problems:
        item = problems[0].value if problems else ""
        return Retry("admin.coop_retry_categories", {"item": item, "known": ", ".join(known)})
    return wanted


def _parse_digest(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = " ".join(clean(answer.text).split())
    if text == "-" and answers.get("mode") != "edit":
        return DEFAULT_DIGEST
    if check_cron(text) is not None:
        return Retry("admin.coop_retry_digest", {"example": DEFAULT_DIGEST})
    return text


def _parse_timezone(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)
    if text == "-" and answers.get("mode") != "edit":
        return DEFAULT_TIMEZONE
    zone = timezone_named(text)
    if zone is None:
        return Retry("admin.coop_retry_timezone", {"item": text[:40], "example": DEFAULT_TIMEZONE})
    return zone


def _language_label(code: object) -> str:
    """A catalog language by its own name ("Italiano", "English"), as the language menu shows it."""
    return next((str(o.label) for o in LANGUAGES if o.payload == code), str(code))


def _coop_prompt(msgid: str) -> Callable[[Answers, Context], Msg]:
    def prompt(answers: Answers, ctx: Context) -> Msg:
        params: dict[str, object] = {
            "name": answers.get("name", ""),
            "known": ", ".join(c.slug for c in ctx.categories),
            "default": DEFAULT_DIGEST,
            "default_timezone": DEFAULT_TIMEZONE,
        }
        if answers.get("mode") == "edit":
            params.update(
                territory=_places(ctx, answers.get("old_territory")),
                categories=", ".join(_strings(answers.get("old_categories"))),
                digest=answers.get("old_digest", ""),
                timezone=answers.get("old_timezone", DEFAULT_TIMEZONE),
                language=_language_label(answers.get("old_language", "it")),
            )
            return Msg(f"{msgid}_edit", params)
        return Msg(msgid, params)

    return prompt


def _coop_summary(answers: Answers, ctx: Context) -> Msg:
    name, slug = answers.get("name", ""), answers.get("slug", "")
    if answers.get("mode") != "edit":
        return Msg(
            "admin.confirm_coop_create",
            {
                "name": name,
                "slug": slug,
                "territory": _places(ctx, answers.get("territory")),
                "categories": ", ".join(_strings(answers.get("categories"))),
                "digest": answers.get("digest", ""),
                "timezone": answers.get("timezone", DEFAULT_TIMEZONE),
                "language": _language_label(answers.get("language", "it")),
            },
        )
    field = str(answers.get("field"))
    if field == "territory":
        old, new = _places(ctx, answers.get("old_territory")), _places(ctx, answers.get("territory"))
    elif field == "categories":
        old, new = ", ".join(_strings(answers.get("old_categories"))), ", ".join(_strings(answers.get("categories")))
    elif field == "language":
        old, new = _language_label(answers.get("old_language")), _language_label(answers.get("language"))
    else:  # digest, timezone: stored as typed
        old, new = str(answers.get(f"old_{field}", "")), str(answers.get(field, ""))
    return Msg(f"admin.confirm_coop_edit_{field}", {"name": name, "slug": slug, "old": old, "new": new})


def _coop_done(answers: Answers, ctx: Context) -> Outcome:
    slug = str(answers.get("slug", ""))
    is_new = answers.get("mode") != "edit"
    field = answers.get("field")
    territory = _pairs(answers.get("territory")) if is_new or field == "territory" else None
    categories = _strings(answers.get("categories")) if is_new or field == "categories" else None
    digest, timezone, language = (
        answers.get(key) if is_new or field == key else None for key in ("digest", "timezone", "language")
    )
    effect = CooperativeSaved(
        slug=slug,
        is_new=is_new,
        at=ctx.now,
        name=str(answers.get("name", "")) if is_new else None,
        territory=territory,
        categories=categories,
        digest_cron=str(digest) if digest is not None else None,
        timezone=str(timezone) if timezone is not None else None,
        language=str(language) if language is not None else None,
    )
    return _done(effect)


def _field_step(
    field: str, next_step: str, *, parse: Parser = take_choice, options: tuple[Option, ...] = (), help: str = "admin.help_coop"
) -> Step:
    """A field of a cooperative: asked in turn when creating one, alone when `/modifica_cooperativa` names it.

    The question is ``admin.coop_ask_<field>`` (``…_edit`` when editing, with the current value)."""
    return Step(
        field,
        prompt=_coop_prompt(f"admin.coop_ask_{field}"),
        parse=parse,
        options=options,
        save_as=field,
        next=next_step,
        skip=_skip_unless(field),
        help=help,
        retry="common.retry_choice" if options else None,
    )


def build_cooperative(known_msgids: set[str] | None = None) -> Flow:
    """Create a cooperative (name, slug, territory, categories, digest, time zone, language) or change one field, then confirm."""
    return _confirmed_flow(
        COOP_FLOW,
        2,
        (
            Step(
                "name",
                prompt=Msg("admin.coop_ask_name"),
                parse=_parse_coop_name,
                save_as="name",
                next="slug",
                skip=_creating_only,
                help="admin.help_coop",
            ),
            Step(
                "slug",
                prompt=_coop_prompt("admin.coop_ask_slug"),
                parse=_parse_coop_slug,
                save_as="slug",
                next="territory",
                skip=_creating_only,
                help="admin.help_coop",
            ),
            _field_step("territory", "categories", parse=_parse_territory, help="admin.help_coop_territory"),
            _field_step("categories", "digest", parse=_parse_categories),
            _field_step("digest", "timezone", parse=_parse_digest, help="admin.help_coop_digest"),
            _field_step("timezone", "language", parse=_parse_timezone, help="admin.help_coop_timezone"),
            _field_step("language", "confirm", options=LANGUAGES),
        ),
        summary=lambda a, ctx: Msg("admin.confirm", {"summary": _coop_summary(a, ctx)}),
        done=_coop_done,
        known_msgids=known_msgids,
        reads=(Reads.COOPERATIVES,),
    )


def _one_arg(check: Callable[[tuple[str, ...], Context], object]) -> ArgsCheck:
    return lambda args, ctx: len(args) == 1 and bool(check(args, ctx))


def _period_words(args: tuple[str, ...], ctx: Context) -> bool:
    return parse_period(args, ctx.now) is not None


def _admin(
    name: str,
    aliases: tuple[str, ...],
    handler: Handler,
    *,
    words: ArgsCheck | None = None,
    reads: tuple[Reads, ...] = (),
    who: Who = Who.ADMIN,
) -> CommandSpec:
    return CommandSpec(name, handler, aliases=aliases, who=who, words=words, reads=frozenset(reads))


SPECS: Final[tuple[CommandSpec, ...]] = (
    _admin("statistiche", ("stats", "statistics"), _stats, words=_period_words, reads=(Reads.STATS,)),
    _admin("esporta", ("export",), _export, words=_period_words, who=Who.STAFF),
    _admin("stato_sistema", ("sistema", "system"), _system, reads=(Reads.SYSTEM,)),
    _admin("audit", (), _audit, words=lambda args, ctx: len(args) == 1 and args[0].isdigit(), reads=(Reads.AUDIT,)),
    _admin("annuncio", ("broadcast",), _announce, words=lambda args, ctx: _audience(args, ctx) is not None),
    _admin("nomina_admin", ("grant_admin",), _grant, words=lambda args, ctx: _identity(args) is not None),
    _admin("revoca_admin", ("revoke_admin",), _revoke, words=lambda args, ctx: _identity(args) is not None),
    _admin("operatori", ("operators",), _operators, reads=(Reads.OPERATORS,)),
    _admin(
        "revoca_operatore",
        ("revoke_operator",),
        _revoke_operator,
        words=lambda args, ctx: _active_operator(args, ctx) is not None,
        reads=(Reads.OPERATORS,),
    ),
    _admin("invito", ("invite",), _invite, words=lambda args, ctx: _active_coop(args, ctx) is not None, reads=(Reads.COOPERATIVES,)),
    _admin("cooperative", ("cooperatives",), _cooperatives, reads=(Reads.COOPERATIVES,)),
    _admin("cooperativa", ("show_cooperative",), _coop_show, words=_one_arg(lambda args, ctx: ctx.staff.cooperative), reads=(Reads.COOPERATIVE,)),
    _admin("nuova_cooperativa", ("add_cooperative",), _coop_new, reads=(Reads.COOPERATIVES,)),
    _admin(
        "modifica_cooperativa",
        ("edit_cooperative",),
        _coop_edit,
        words=lambda args, ctx: ctx.staff.cooperative is not None and _coop_field(args) is not None,
        reads=(Reads.COOPERATIVE,),
    ),
    _admin(
        "disattiva_cooperativa",
        ("deactivate_cooperative",),
        _coop_disable,
        words=_one_arg(lambda args, ctx: ctx.staff.cooperative and ctx.staff.cooperative.is_active),
        reads=(Reads.COOPERATIVE,),
    ),
    _admin("categorie", ("categories",), _categories, reads=(Reads.CATEGORIES,)),
    _admin("nuova_categoria", ("add_category",), _category_new, reads=(Reads.CATEGORIES,)),
    _admin("rinomina_categoria", ("rename_category",), _category_rename, words=_one_arg(lambda args, ctx: _category(ctx, args[0])), reads=(Reads.CATEGORIES,)),
    _admin("sposta_categoria", ("move_category",), _category_move, words=lambda args, ctx: _move_target(args, ctx) is not None, reads=(Reads.CATEGORIES,)),
    _admin(
        "disattiva_categoria",
        ("disable_category",),
        _category_disable,
        words=lambda args, ctx: _disable_target(args, ctx) is not None,
        reads=(Reads.CATEGORIES,),
    ),
    _admin("digest_ora", ("digest_now",), _digest_now, words=lambda args, ctx: _active_coop(args, ctx) is not None, reads=(Reads.COOPERATIVES,)),
)
"""Each staff command, whole. Without `words`, the plain word followed by more words is a sentence
("categorie spesa salute"): only the "/" form takes arguments there."""
