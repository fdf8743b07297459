"""What admin commands share: answering, recording a read, starting a staff flow, "Confermi?", building specs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from conversations.command import ArgsCheck, CommandSpec, Handler, Reads, Who
from conversations.effects import Effect, StaffCommandUsed
from conversations.engine import Builder, Engine
from conversations.flow import Ending, Flow, Prompt, Step
from conversations.messages import Msg, Reply
from conversations.rights import YES_NO
from conversations.types import Answers, Context, Outcome, State

T = TypeVar("T")

Target = Callable[[tuple[str, ...], Context], T | None]
"""What a command's arguments name among what it read (a cooperative, a period…), or None."""
Run = Callable[[Engine, Builder, Context, T], None]
"""A handler given what its arguments named."""


def args(b: Builder) -> tuple[str, ...]:
    """The words after the command's name, as `Engine.recognise` split them once."""
    assert b.call is not None  # only handlers run by the engine read this
    return b.call.args


def say(e: Engine, b: Builder, ctx: Context, msgid: str, **params: object) -> None:
    e.inform(b, ctx, Reply(Msg(msgid, params)))


def used(b: Builder, ctx: Context, name: str) -> None:
    """Audit a read-only command (who looked at what, never the data)."""
    b.effects.append(StaffCommandUsed(command=name, at=ctx.now))


def listed(e: Engine, b: Builder, ctx: Context, command: str, msgid: str, rows: tuple[Msg, ...]) -> None:
    """A read-only list (`/operatori`, `/cooperative`, `/categorie`): audited, "nessuno" when empty."""
    used(b, ctx, command)
    say(e, b, ctx, msgid, items=rows or Msg("admin.none"))


def state(is_active: bool, inactive: str = "admin.inactive") -> Msg:
    return Msg("admin.active" if is_active else inactive)


def start_flow(e: Engine, b: Builder, ctx: Context, flow_id: str, answers: Mapping[str, object]) -> None:
    """Start a staff flow with what the command already knows (a slug, a filter, the action)."""
    flow = e.flows[flow_id]
    b.state = State(flow_id=flow.id, flow_version=flow.version, version=b.state.version, answers=MappingProxyType(dict(answers)))
    e.enter(b, flow, flow.first, ctx)


def nothing(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("admin.nothing_changed")),))


def done(effect: Effect) -> Outcome:
    return Outcome(replies=(Reply(Msg("admin.done")),), effects=(effect,))


def confirmed_flow(
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
        return done(answers, ctx) if ctx.staff.is_admin else nothing(answers, ctx)

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
        endings={"end.yes": yes, "end.no": nothing},
        targets={"confirm": ("end.yes", "end.no")},
        known_msgids=known_msgids,
        who=Who.ADMIN,
        reads=reads,
    )


def one_arg(check: Callable[[tuple[str, ...], Context], object]) -> ArgsCheck:
    """A word rule: exactly one argument, and `check` accepts it."""
    return lambda args, ctx: len(args) == 1 and bool(check(args, ctx))


def command(
    name: str,
    aliases: tuple[str, ...],
    handler: Handler,
    *,
    words: ArgsCheck | None = None,
    reads: tuple[Reads, ...] = (),
    who: Who = Who.ADMIN,
) -> CommandSpec:
    """A staff command. Without `words`, the plain word followed by more words is a sentence
    ("categorie spesa salute"): only the "/" form takes arguments there."""
    return CommandSpec(name, handler, aliases=aliases, who=who, words=words, reads=frozenset(reads))


def command_on(
    name: str,
    aliases: tuple[str, ...],
    run: Run[T],
    *,
    target: Target[T],
    usage: str,
    usage_params: Callable[[Context], Mapping[str, object]] | None = None,
    words: ArgsCheck | None = None,
    reads: tuple[Reads, ...] = (),
    who: Who = Who.ADMIN,
) -> CommandSpec:
    """A staff command on what its arguments name: `run` gets what `target` found, or the admin gets
    the `usage` text. On WhatsApp the plain word is the command when `target` finds something
    (or when `words` says so, for a stricter rule)."""

    def handler(e: Engine, b: Builder, ctx: Context) -> None:
        found = target(args(b), ctx)
        if found is None:
            say(e, b, ctx, usage, **(usage_params(ctx) if usage_params is not None else {}))
            return
        run(e, b, ctx, found)

    def named(arguments: tuple[str, ...], ctx: Context) -> bool:
        return target(arguments, ctx) is not None

    return CommandSpec(
        name, handler, aliases=aliases, who=who, words=words or named, reads=frozenset(reads), usage=usage
    )
