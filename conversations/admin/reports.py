"""Read-only admin commands (figures, system health, audit tail, operators, cooperatives) and `/esporta`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from conversations._text import small_int
from conversations.admin.common import command, command_on, listed, say, state, used
from conversations.command import CommandSpec, Reads, Who
from conversations.effects import ExportRequested
from conversations.engine import Builder, Engine
from conversations.messages import Msg
from conversations.period import parse_period
from conversations.staff import AuditEntry, Stats, Tally
from conversations.types import Context

AUDIT_DEFAULT: Final = 20
AUDIT_MAX: Final = 100
AUDIT_READ_MAX: Final = 10**9
"""A larger number asks for the most (`AUDIT_MAX`); one beyond this is no number at all."""
AUDIT_ACTORS: Final = frozenset({"admin", "operator", "citizen", "system", "cli"})
"""Who an audit row says acted, each with its msgid ``audit.by_<actor>``."""


def _tallies(items: tuple[Tally, ...]) -> object:
    if not items:
        return Msg("admin.none")
    return tuple(Msg("admin.tally", {"label": t.label, "count": t.count}) for t in items)


def _hours(value: float | None) -> object:
    return Msg("admin.not_available") if value is None else Msg("admin.hours", {"hours": round(value, 1)})


def _figures(args: tuple[str, ...], ctx: Context) -> Stats | None:
    """Loaded by the reader only when the arguments name a period."""
    return ctx.staff.stats


def _stats(e: Engine, b: Builder, ctx: Context, s: Stats) -> None:
    used(b, ctx, "statistiche")
    answered = Msg("admin.tally", {"label": Msg("admin.stats_answered"), "count": s.follow_ups_answered})
    answers = tuple(Msg("admin.tally", {"label": Msg(f"admin.followup_{t.label}"), "count": t.count}) for t in s.follow_up_answers)
    mean: object = Msg("admin.not_available") if s.satisfaction_mean is None else round(s.satisfaction_mean, 1)
    say(
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
    used(b, ctx, "stato_sistema")
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
    say(
        e,
        b,
        ctx,
        "admin.system",
        outbox=_tallies(s.outbox),
        oldest=oldest,
        jobs=jobs or Msg("admin.none"),
        channels=channels or Msg("admin.none"),
        failed_inbound=s.failed_inbound_24h,
    )


def audit_size(args: tuple[str, ...]) -> int:
    """How many audit rows `/audit [n]` asks for (20 by default, at most 100)."""
    asked = small_int(args[0], AUDIT_READ_MAX) if args else None
    return AUDIT_DEFAULT if asked is None else max(1, min(AUDIT_MAX, asked))


def _audit(e: Engine, b: Builder, ctx: Context) -> None:
    used(b, ctx, "audit")
    rows = tuple(audit_line(a) for a in ctx.staff.audit)
    say(e, b, ctx, "admin.audit", count=len(rows), items=rows or Msg("admin.none"))


def audit_line(a: AuditEntry) -> Msg:
    """``• 23 novembre 2026, 10:30 – operatore n. 3 di cantiere: ha preso in carico – richiesta K7MR4P, cooperativa cantiere``."""
    action = Msg(f"audit.{a.action}") if a.is_known else Msg("audit.unknown", {"action": a.action})
    about: list[Msg] = []
    if a.ticket:
        about.append(Msg("audit.about_ticket", {"ticket": a.ticket}))
    if a.cooperative and a.cooperative != a.by_cooperative:
        about.append(Msg("audit.about_cooperative", {"cooperative": a.cooperative}))
    if a.operator is not None and a.operator != a.by_operator:
        about.append(Msg("audit.about_operator", {"id": str(a.operator)}))
    if a.status:
        about.append(Msg(f"status.{a.status}"))
    if a.detail:
        about.append(Msg("audit.about_detail", {"detail": a.detail}))
    item = {"at": a.at, "who": _actor(a), "action": action}
    return Msg("admin.audit_item", {**item, "about": _joined(about)}) if about else Msg("admin.audit_item_bare", item)


def _actor(a: AuditEntry) -> Msg:
    if a.by_operator is not None:
        return Msg("audit.by_operator", {"id": str(a.by_operator), "cooperative": a.by_cooperative or "–"})
    return Msg(f"audit.by_{a.actor}") if a.actor in AUDIT_ACTORS else Msg("audit.by_other", {"actor": a.actor})


def _joined(parts: list[Msg]) -> Msg:
    return parts[0] if len(parts) == 1 else Msg("audit.join", {"first": parts[0], "rest": _joined(parts[1:])})


def _operators(e: Engine, b: Builder, ctx: Context) -> None:
    rows = tuple(
        Msg(
            "admin.operator_item",
            {
                "id": o.id,
                "cooperative": o.cooperative,
                "channel": o.channel,
                "external_id": o.external_id,
                "state": state(o.is_active, "admin.revoked"),
            },
        )
        for o in ctx.staff.operators
    )
    listed(e, b, ctx, "operatori", "admin.operators", rows)


def _cooperatives(e: Engine, b: Builder, ctx: Context) -> None:
    rows = tuple(
        Msg("admin.cooperative_item", {"slug": c.slug, "name": c.name, "operators": c.operators, "state": state(c.is_active)})
        for c in ctx.staff.cooperatives
    )
    listed(e, b, ctx, "cooperative", "admin.cooperatives", rows)


def _period(args: tuple[str, ...], ctx: Context) -> tuple[datetime, datetime] | None:
    return parse_period(args, ctx.now)


def _period_words(args: tuple[str, ...], ctx: Context) -> bool:
    return _period(args, ctx) is not None


def _export(e: Engine, b: Builder, ctx: Context, period: tuple[datetime, datetime]) -> None:
    """Admins get every need with personal data; an operator their cooperative's, without."""
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
    say(e, b, ctx, "admin.export_sent" if staff.is_admin else "admin.export_sent_operator", since=since, until=until - timedelta(seconds=1))


SPECS: Final[tuple[CommandSpec, ...]] = (
    command_on(
        "statistiche",
        ("stats", "statistics"),
        _stats,
        target=_figures,
        usage="admin.usage_statistiche",
        words=_period_words,
        reads=(Reads.STATS,),
    ),
    command_on("esporta", ("export",), _export, target=_period, usage="admin.usage_esporta", who=Who.STAFF),
    command("stato_sistema", ("sistema", "system"), _system, reads=(Reads.SYSTEM,)),
    command("audit", (), _audit, words=lambda args, ctx: len(args) == 1 and small_int(args[0], AUDIT_READ_MAX) is not None, reads=(Reads.AUDIT,)),
    command("operatori", ("operators",), _operators, reads=(Reads.OPERATORS,)),
    command("cooperative", ("cooperatives",), _cooperatives, reads=(Reads.COOPERATIVES,)),
)
"""What admins read, each command whole; `/esporta` is for operators too (their cooperative only)."""
