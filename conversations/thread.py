"""A need's thread: `/scrivi` for the holding cooperative, Telegram replies, the citizen's open
conversation with the cooperative (FINE to end it), held WhatsApp messages, and `/ritira`. Pure."""

from __future__ import annotations

import re
from typing import Final

from conversations._text import clean
from conversations.command import Call, CommandSpec, Reads, Who
from conversations.engine import Builder, Engine, match_option
from conversations.flows.request import MAX_MESSAGE_CHARS, MINE_FLOW, OPEN_FOR, WITHDRAW_FLOW, can_write, open_thread, theirs
from conversations.messages import Inbound, Msg, Reply
from conversations.operator import OperatorCommand, parse_arguments
from conversations.thread_effects import CitizenWrote, CooperativeWrote, ThreadClosed, ThreadOpened, WaitingShown
from conversations.ticket import ALPHABET, is_ticket, normalize_ticket
from conversations.types import Context, NeedSummary
from conversations.understanding.meaning import lemmas
from conversations.vocabulary import OPEN_STATUSES, NeedStatus

WRITE: Final = "scrivi"
WITHDRAW_LEMMAS: Final = frozenset({"ritirare", "ritiro", "revocare", "annullare", "cancellare"})
"""Words that, with a ticket code in the same message, ask to withdraw it ("voglio ritirare la richiesta K7M-R4P")."""
_TICKET_IN_TEXT: Final = re.compile(rf"(?<![A-Za-z0-9])([{ALPHABET}]{{3}})[- ]?([{ALPHABET}]{{3}})(?![A-Za-z0-9])", re.IGNORECASE)


# --- what happens aside from the flow: held messages, replies, the open conversation ---------


def aside(e: Engine, b: Builder, inbound: Inbound, ctx: Context) -> bool:
    """A message that belongs to a thread rather than to the current question; True when handled.

    Held cooperative messages are shown first (on WhatsApp the template said "rispondi per
    leggerlo": this answer is not forwarded). A Telegram reply to a cooperative's message goes
    to that cooperative whatever the conversation is doing; otherwise, while a conversation with
    the cooperative is open and no question is waiting, the citizen's words go to it.
    """
    if ctx.waiting:
        _show_waiting(e, b, ctx)
        return True
    text = clean(inbound.text or "")[:MAX_MESSAGE_CHARS]
    if not text and (inbound.media or inbound.location) and not b.state.is_active:
        talking = open_thread(ctx)
        if talking is not None and can_write(talking):  # a photo for the cooperative, not a new request
            e.inform(b, ctx, Reply(Msg("thread.text_only", {"cooperative": talking.cooperative})))
            return True
    if not text or inbound.choice is not None:
        return False
    need: NeedSummary | None = None
    if inbound.reply_to is not None and ctx.replied_need_id is not None:
        need = theirs(ctx, need_id=ctx.replied_need_id)
    elif not b.state.is_active or (b.state.flow_id in (e.home, MINE_FLOW) and not _picks_an_option(e, b, text, ctx)):
        need = open_thread(ctx)
    if need is None or not can_write(need):
        return False
    b.effects.append(CitizenWrote(need_id=need.id, ticket=need.ticket, text=text, at=ctx.now))
    b.effects.append(ThreadOpened(need_id=need.id, until=ctx.now + OPEN_FOR))
    e.inform(b, ctx, Reply(Msg("thread.sent", {"cooperative": need.cooperative})))
    return True


def _picks_an_option(e: Engine, b: Builder, text: str, ctx: Context) -> bool:
    """At the home menu or the list of requests, "2" or "le mie richieste" still answer the question."""
    here = e.current(b)
    if here is None:
        return False
    step = here[1]
    options = step.options(b.state.answers, ctx) if callable(step.options) else step.options
    return match_option(options, choice=None, text=text) is not None


def _show_waiting(e: Engine, b: Builder, ctx: Context) -> None:
    for held in ctx.waiting:
        b.replies.append(Reply(Msg("thread.from_cooperative", {"cooperative": held.cooperative, "ticket": held.ticket, "text": held.text})))
    last = ctx.waiting[-1]
    b.effects.append(WaitingShown(message_ids=tuple(m.id for m in ctx.waiting), need_id=last.need_id, until=ctx.now + OPEN_FOR))
    e.inform(b, ctx, Reply(Msg("thread.reply_hint", {"cooperative": last.cooperative})))


def reply_call(engine: Engine, inbound: Inbound, ticket: str) -> Call | None:
    """An operator's Telegram reply to a message about `ticket`: `/scrivi TICKET` with the reply's words."""
    spec = engine.specs.get(WRITE)
    text = clean(inbound.text or "")
    if spec is None or not text:
        return None
    return Call(spec=spec, args=(ticket, *text.split()), rest=f"{ticket} {text}", explicit=True, parsed=OperatorCommand(WRITE, code=ticket, rest=text))


def withdraw_words(text: str) -> tuple[str, str] | None:
    """ "voglio ritirare la richiesta K7M-R4P" → ("ritira", "K7M-R4P"): a withdrawal asked in words."""
    found = _TICKET_IN_TEXT.search(text)
    if found is None or len(text) > 200:
        return None
    rest = text[: found.start()] + " " + text[found.end() :]
    if not WITHDRAW_LEMMAS & set(lemmas(rest)):
        return None
    return "ritira", normalize_ticket(found.group(1) + found.group(2))


# --- the operator writes ---------------------------------------------------------


def _write(e: Engine, b: Builder, ctx: Context) -> None:
    assert b.call is not None and isinstance(b.call.parsed, OperatorCommand)
    cmd = b.call.parsed
    operator, need = ctx.desk.operator, ctx.desk.need
    assert operator is not None  # Who.OPERATOR
    if not cmd.code:
        e.inform(b, ctx, Reply(Msg("thread.usage_scrivi")))
        return
    if need is None or need.ticket != cmd.code or not need.is_ours:
        # Offered, declined, taken by others or unknown: one answer, so nothing leaks.
        e.inform(b, ctx, Reply(Msg("op.no_such_need", {"ticket": cmd.code})))
        return
    text = clean(cmd.rest)[:MAX_MESSAGE_CHARS]
    if not text:
        e.inform(b, ctx, Reply(Msg("thread.usage_scrivi")))
        return
    if need.status == NeedStatus.CLOSED:  # the citizen could not answer it: both sides stop together
        e.inform(b, ctx, Reply(Msg("thread.op_closed", {"ticket": need.ticket})))
        return
    b.effects.append(
        CooperativeWrote(
            need_id=need.id, ticket=need.ticket, operator_id=operator.id, cooperative_id=operator.cooperative_id, text=text, at=ctx.now
        )
    )
    e.inform(b, ctx, Reply(Msg("thread.op_sent", {"ticket": need.ticket}), about=need.id))


def _write_words(args: tuple[str, ...], ctx: Context) -> bool:
    """On WhatsApp "scrivi K7M-R4P …" is the command only for a need this operator holds."""
    cmd = parse_arguments(WRITE, " ".join(args))
    need = ctx.desk.need
    return need is not None and need.ticket == cmd.code and need.is_ours and bool(cmd.rest)


# --- the citizen's commands ------------------------------------------------------


def _withdraw(e: Engine, b: Builder, ctx: Context) -> None:
    code = normalize_ticket(" ".join(b.call.args) if b.call is not None else "")
    need = theirs(ctx, ticket=code) if code else None
    if not code:
        e.inform(b, ctx, Reply(Msg("thread.usage_ritira")))
    elif need is None:
        e.inform(b, ctx, Reply(Msg("needs.not_found", {"ticket": code})))
    elif need.status not in OPEN_STATUSES:
        e.inform(b, ctx, Reply(Msg("thread.not_open", {"ticket": need.ticket})))
    else:
        e.start(b, WITHDRAW_FLOW, ctx, {"need_id": need.id, "ticket": need.ticket})


def _end(e: Engine, b: Builder, ctx: Context) -> None:
    need = open_thread(ctx)
    assert need is not None  # the spec's `when`
    b.effects.append(ThreadClosed(need_id=need.id, at=ctx.now))
    e.inform(b, ctx, Reply(Msg("thread.closed", {"cooperative": need.cooperative})))


SPECS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec(
        WRITE,
        _write,
        who=Who.OPERATOR,
        alone=False,
        words=_write_words,
        reads=frozenset({Reads.NEED}),
        parse=lambda rest: parse_arguments(WRITE, rest),
        usage="thread.usage_scrivi",
    ),
    CommandSpec("ritira", _withdraw, aliases=("ritiro",), alone=False, words=lambda args, ctx: is_ticket(" ".join(args))),
    CommandSpec("fine", _end, aliases=("chiudi", "esci", "end"), when=lambda inbound, ctx: open_thread(ctx) is not None),
)
"""`/scrivi` for the holding cooperative; `/ritira` and FINE (the way out of a conversation) for the citizen."""
