"""Who holds a need: an admin gives it to a cooperative (`/assegna`), the holder reopens it (`/riapri`) or passes it on (`/trasferisci`)."""

from __future__ import annotations

from typing import Final

from conversations._text import clean, fold
from conversations.command import ArgsCheck, CommandSpec, Handler, Reads, Who
from conversations.effects import NeedAssigned, NeedReopened, NeedTransferred
from conversations.engine import Builder, Engine
from conversations.messages import Msg, Reply
from conversations.operator import MAX_NOTE_CHARS, OperatorCommand, take_ticket
from conversations.types import Context, NeedView, TargetView
from conversations.vocabulary import OPEN_STATUSES, AssignmentStatus, NeedStatus

REOPENABLE: Final = frozenset({NeedStatus.RESOLVED, NeedStatus.CLOSED})
"""Only a need the cooperative itself ended can be reopened (a withdrawn one is the citizen's choice)."""
TRANSFERABLE: Final = frozenset({NeedStatus.CLAIMED, NeedStatus.IN_PROGRESS})


def parse(name: str, rest: str) -> OperatorCommand:
    """``K7M-R4P rete-romagna non copriamo Cervia`` -> code, arg="rete-romagna", rest="non copriamo Cervia"."""
    tokens = rest.split()
    ticket, used = take_ticket(tokens)
    remaining = tokens[used:]
    if name == "riapri":
        return OperatorCommand(name, code=ticket, rest=" ".join(remaining))
    slug = fold(remaining[0]) if remaining else ""
    return OperatorCommand(name, code=ticket, arg=slug, rest=" ".join(remaining[1:]))


def _command(b: Builder) -> OperatorCommand:
    assert b.call is not None and isinstance(b.call.parsed, OperatorCommand)
    return b.call.parsed


def _say(e: Engine, b: Builder, ctx: Context, msgid: str, **params: object) -> None:
    e.inform(b, ctx, Reply(Msg(msgid, params)))


def _need(ctx: Context, cmd: OperatorCommand) -> NeedView | None:
    need = ctx.desk.need  # for an operator: only when their cooperative may see it; for an admin: any
    return need if need is not None and need.ticket == cmd.code else None


def _target(ctx: Context, cmd: OperatorCommand) -> TargetView | None:
    target = ctx.desk.target
    return target if target is not None and target.slug == cmd.arg else None


def _held(
    e: Engine, b: Builder, ctx: Context, cmd: OperatorCommand, usage: str, statuses: frozenset[NeedStatus], refusal: str
) -> NeedView | None:
    """The need the command names, when the operator's cooperative holds it in one of `statuses`;
    otherwise None, once the reason is said (how to use it, unknown, not yours, wrong status)."""
    if not cmd.code:
        _say(e, b, ctx, usage)
        return None
    need = _need(ctx, cmd)
    if need is None:
        _say(e, b, ctx, "op.no_such_need", ticket=cmd.code)
        return None
    if not need.is_ours:
        _say(e, b, ctx, "op.status_claim_first" if need.status == NeedStatus.NEW else "op.status_not_ours", ticket=need.ticket)
        return None
    if need.status not in statuses:
        _say(e, b, ctx, refusal, ticket=need.ticket, status=Msg(f"status.{need.status}"))
        return None
    return need


def _reopen(e: Engine, b: Builder, ctx: Context) -> None:
    cmd, operator = _command(b), ctx.desk.operator
    assert operator is not None  # the guard admits operators only
    need = _held(e, b, ctx, cmd, "op.usage_riapri", REOPENABLE, "op.reopen_open")
    if need is None:
        return
    if need.is_erased:
        _say(e, b, ctx, "op.reopen_erased", ticket=need.ticket)
        return
    if need.is_withdrawn:
        _say(e, b, ctx, "op.reopen_withdrawn", ticket=need.ticket)
        return
    note = clean(cmd.rest)[:MAX_NOTE_CHARS] or None
    b.effects.append(
        NeedReopened(
            need_id=need.id,
            ticket=need.ticket,
            from_status=NeedStatus(need.status),
            operator_id=operator.id,
            note=note,
            at=ctx.now,
        )
    )
    _say(e, b, ctx, "op.reopened", ticket=need.ticket)


def _transfer(e: Engine, b: Builder, ctx: Context) -> None:
    cmd, operator = _command(b), ctx.desk.operator
    assert operator is not None
    if not cmd.arg:  # no slug (and then no ticket either, perhaps)
        _say(e, b, ctx, "op.usage_trasferisci")
        return
    need = _held(e, b, ctx, cmd, "op.usage_trasferisci", TRANSFERABLE, "op.transfer_ended")
    if need is None:
        return
    target = _target(ctx, cmd)
    if target is None or not target.is_active:
        _say(e, b, ctx, "op.unknown_cooperative", slug=cmd.arg)
        return
    if target.id == operator.cooperative_id:
        _say(e, b, ctx, "op.transfer_same", ticket=need.ticket)
        return
    if target.had is not None:  # it was offered it, declined it or passed it on: never the same need twice
        _say(e, b, ctx, "op.transfer_had", ticket=need.ticket, cooperative=target.name)
        return
    reason = clean(cmd.rest)[:MAX_NOTE_CHARS]
    if not reason:
        _say(e, b, ctx, "op.transfer_reason", ticket=need.ticket, slug=target.slug)
        return
    b.effects.append(
        NeedTransferred(
            need_id=need.id,
            ticket=need.ticket,
            from_cooperative_id=operator.cooperative_id,
            to_cooperative_id=target.id,
            operator_id=operator.id,
            reason=reason,
            at=ctx.now,
        )
    )
    _say(e, b, ctx, "op.transferred", ticket=need.ticket, cooperative=target.name)


def _assign(e: Engine, b: Builder, ctx: Context) -> None:
    cmd = _command(b)
    if not cmd.code or not cmd.arg:
        _say(e, b, ctx, "admin.usage_assegna")
        return
    need = _need(ctx, cmd)
    if need is None:
        _say(e, b, ctx, "admin.assign_no_need", ticket=cmd.code)
        return
    target = _target(ctx, cmd)
    if target is None or not target.is_active:
        _say(e, b, ctx, "admin.assign_no_cooperative", slug=cmd.arg)
        return
    refusal = _assign_refusal(need, target)
    if refusal is not None:
        _say(e, b, ctx, refusal, ticket=need.ticket, cooperative=target.name, holder=need.claimed_by or "")
        return
    b.effects.append(NeedAssigned(need_id=need.id, ticket=need.ticket, cooperative_id=target.id, at=ctx.now))
    msgid = "admin.assigned" if target.operators else "admin.assigned_no_operators"
    _say(e, b, ctx, msgid, ticket=need.ticket, cooperative=target.name, slug=target.slug)


def _assign_refusal(need: NeedView, target: TargetView) -> str | None:
    """Why this need cannot go to this cooperative, as a msgid; None when it can."""
    if need.status not in OPEN_STATUSES:
        return "admin.assign_ended"
    if need.claimed_by is not None:
        return "admin.assign_held"
    if target.had == AssignmentStatus.ROUTED:
        return "admin.assign_already"
    if target.had is not None:
        return "admin.assign_declined"
    return None


def _words(name: str) -> ArgsCheck:
    """Plain words after the command word are its arguments only when they name a need the sender
    may see and, for a cooperative's slug, one that exists: "riapri K7M-R4P" on WhatsApp."""

    def check(args: tuple[str, ...], ctx: Context) -> bool:
        cmd = parse(name, " ".join(args))
        if _need(ctx, cmd) is None:
            return False
        if name == "riapri":
            return True
        return _target(ctx, cmd) is not None and (name == "assegna" or bool(cmd.rest))

    return check


def _spec(name: str, handler: Handler, who: Who, reads: tuple[Reads, ...]) -> CommandSpec:
    return CommandSpec(
        name,
        handler,
        who=who,
        alone=False,
        words=_words(name),
        reads=frozenset(reads),
        parse=lambda rest: parse(name, rest),
        usage=f"{'admin' if who == Who.ADMIN else 'op'}.usage_{name}",
    )


SPECS: Final[tuple[CommandSpec, ...]] = (
    _spec("riapri", _reopen, Who.OPERATOR, (Reads.NEED,)),
    _spec("trasferisci", _transfer, Who.OPERATOR, (Reads.NEED, Reads.TARGET)),
    _spec("assegna", _assign, Who.ADMIN, (Reads.ANY_NEED, Reads.TARGET)),
)
"""`/riapri` and `/trasferisci` for the holding cooperative's operators, `/assegna` for admins."""
