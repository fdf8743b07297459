"""A need's thread and the citizen's side of a request: `/scrivi`, replies, "Scrivi alla cooperativa",
added information, `/ritira`, and the menu a ticket code opens. Pure: effects and replies only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from conversations._text import clean
from conversations.command import Call, CommandSpec, Reads, Who
from conversations.engine import Builder, Engine, match_option
from conversations.flow import Flow, Step
from conversations.messages import Inbound, Msg, Option, Reply
from conversations.operator import OperatorCommand, parse_arguments
from conversations.rights import YES_NO
from conversations.thread_effects import CitizenWrote, CooperativeWrote, NeedWithdrawn, ThreadClosed, ThreadOpened, WaitingShown
from conversations.ticket import ALPHABET, is_ticket, normalize_ticket
from conversations.types import Answer, Answers, Context, NeedSummary, Outcome, Retry
from conversations.understanding.meaning import lemmas
from conversations.vocabulary import OPEN_STATUSES, NeedStatus

MAX_MESSAGE_CHARS: Final = 2000
"""What one thread message keeps; longer text is cut (a Telegram message is 4096, a WhatsApp body 1600)."""
OPEN_FOR: Final = timedelta(hours=24)
"""How long a conversation with the cooperative stays open after its last message, either way."""
WRITE: Final = "scrivi"
MINE_FLOW: Final = "mie_richieste"
MENU_FLOW: Final = "richiesta_persona"
INFO_FLOW: Final = "aggiungi_informazioni"
WITHDRAW_FLOW: Final = "ritiro"
WITHDRAW_LEMMAS: Final = frozenset({"ritirare", "ritiro", "revocare", "annullare", "cancellare"})
"""Words that, with a ticket code in the same message, ask to withdraw it ("voglio ritirare la richiesta K7M-R4P")."""
_TICKET_IN_TEXT: Final = re.compile(rf"(?<![A-Za-z0-9])([{ALPHABET}]{{3}})[- ]?([{ALPHABET}]{{3}})(?![A-Za-z0-9])", re.IGNORECASE)


# --- what the citizen has --------------------------------------------------------


def theirs(ctx: Context, *, ticket: str = "", need_id: str = "") -> NeedSummary | None:
    """One of the citizen's requests, by ticket or id."""
    return next((n for n in ctx.needs if (ticket and n.ticket == ticket) or (need_id and n.id == need_id)), None)


def open_thread(ctx: Context) -> NeedSummary | None:
    """The request whose cooperative the citizen is talking to, while that conversation is open."""
    if ctx.thread_need_id is None or ctx.thread_until is None or ctx.thread_until <= ctx.now:
        return None
    need = theirs(ctx, need_id=ctx.thread_need_id)
    return need if need is not None and need.cooperative is not None else None


def _can_write(need: NeedSummary | None) -> bool:
    return need is not None and need.cooperative is not None and need.status != NeedStatus.CLOSED


def holder_line(need: NeedSummary) -> Msg:
    return Msg("needs.held_by", {"cooperative": need.cooperative}) if need.cooperative else Msg("needs.searching")


def item(need: NeedSummary) -> Msg:
    """One request as the citizen reads it: its holder, the status they see and since when."""
    return Msg(
        "needs.item",
        {
            "ticket": need.ticket,
            "category": need.category_label,
            "status": Msg(f"status.{need.status}"),
            "date": need.changed_at or need.created_at,
            "holder": holder_line(need),
        },
    )


def _open_ones(ctx: Context) -> tuple[NeedSummary, ...]:
    return tuple(n for n in ctx.needs if n.status in OPEN_STATUSES)


def needs_list(ctx: Context) -> Reply:
    """`/miei`: every request with its holder, status and since when; how to act on an open one."""
    if not ctx.needs:
        return Reply(Msg("needs.none"))
    hint: object = Msg("needs.pick_hint") if _open_ones(ctx) else ""
    return Reply(Msg("needs.list", {"items": tuple(item(n) for n in ctx.needs), "hint": hint}))


def mine(e: Engine, b: Builder, ctx: Context) -> None:
    """The list; with open requests, each one is an option that opens its menu."""
    if _open_ones(ctx):
        e.start(b, MINE_FLOW, ctx)
    else:
        e.inform(b, ctx, needs_list(ctx))


def _pick_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return tuple(Option(n.ticket, f"{n.ticket} – {n.category_label}", (n.ticket.replace("-", ""),)) for n in _open_ones(ctx))


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
    if not text or inbound.choice is not None:
        return False
    need: NeedSummary | None = None
    if inbound.reply_to is not None and ctx.replied_need_id is not None:
        need = theirs(ctx, need_id=ctx.replied_need_id)
    elif not b.state.is_active or (b.state.flow_id in (e.home, MINE_FLOW) and not _picks_an_option(e, b, text, ctx)):
        need = open_thread(ctx)
    if need is None or not _can_write(need):
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


def show_need(e: Engine, b: Builder, ctx: Context, ticket: str) -> None:
    """A ticket typed on its own: that request and what can be done with it, as numbered options."""
    need = theirs(ctx, ticket=ticket)
    if need is None:
        e.inform(b, ctx, Reply(Msg("needs.not_found", {"ticket": ticket})))
        return
    if need.status not in OPEN_STATUSES:
        e.inform(b, ctx, Reply(Msg("needs.one", {"item": item(need)})))
        return
    e.start(b, MENU_FLOW, ctx, {"need_id": need.id, "ticket": need.ticket})


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


# --- the citizen's flows ---------------------------------------------------------


def _need(answers: Answers, ctx: Context) -> NeedSummary | None:
    return theirs(ctx, ticket=str(answers.get("ticket", "")))


def _menu_prompt(answers: Answers, ctx: Context) -> Msg:
    need = _need(answers, ctx)
    return Msg("thread.need_menu", {"item": item(need) if need is not None else str(answers.get("ticket", ""))})


def _menu_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    need = _need(answers, ctx)
    options = [Option("informazioni", Msg("thread.option_add"), ("aggiungi", "aggiungere", "informazioni", "aggiungi informazioni"))]
    if _can_write(need):
        options.append(Option("messaggio", Msg("thread.option_write"), ("scrivi", "scrivere", "cooperativa", "messaggio")))
    options.append(Option("ritirare", Msg("thread.option_withdraw"), ("ritira", "ritirare", "ritiro", "ritirala")))
    return tuple(options)


def _open_for_writing(answers: Answers, ctx: Context) -> Outcome:
    need = _need(answers, ctx)
    if not _can_write(need):
        return Outcome(replies=(Reply(Msg("needs.searching")),))
    assert need is not None
    return Outcome(
        replies=(Reply(Msg("thread.write_now", {"cooperative": need.cooperative})),),
        effects=(ThreadOpened(need_id=need.id, until=ctx.now + OPEN_FOR),),
    )


def _ask_info(answers: Answers, ctx: Context) -> Msg:
    return Msg("thread.ask_info", {"ticket": answers.get("ticket", "")})


def _parse_info(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)[:MAX_MESSAGE_CHARS]
    return text if text else Retry("thread.retry_info")


def _info_added(answers: Answers, ctx: Context) -> Outcome:
    need = _need(answers, ctx)
    if need is None:
        return Outcome(replies=(Reply(Msg("needs.not_found", {"ticket": answers.get("ticket", "")})),))
    effect = CitizenWrote(need_id=need.id, ticket=need.ticket, text=str(answers.get("info", "")), at=ctx.now, is_info=True)
    return Outcome(replies=(Reply(Msg("thread.info_added", {"ticket": need.ticket})),), effects=(effect,))


def _ask_withdraw(answers: Answers, ctx: Context) -> Msg:
    return Msg("thread.ask_withdraw", {"ticket": answers.get("ticket", "")})


def _withdrawn(answers: Answers, ctx: Context) -> Outcome:
    need = _need(answers, ctx)
    if need is None or need.status not in OPEN_STATUSES:
        return Outcome(replies=(Reply(Msg("thread.not_open", {"ticket": answers.get("ticket", "")})),))
    effect = NeedWithdrawn(need_id=need.id, ticket=need.ticket, from_status=need.status, at=ctx.now)
    return Outcome(replies=(Reply(Msg("thread.withdrawn", {"ticket": need.ticket})),), effects=(effect,))


def _kept(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("thread.withdraw_kept", {"ticket": answers.get("ticket", "")})),))


def build(known_msgids: set[str] | None = None) -> tuple[Flow, ...]:
    """`/miei` with its open requests to pick, a request's menu, adding information, and the withdrawal's
    confirmation. The menu's payloads are no command's name: a button press that names a command runs
    the command ("ritira" is `/ritira`)."""
    pick = Flow.build(
        MINE_FLOW,
        1,
        (
            Step(
                "pick",
                prompt=lambda a, ctx: needs_list(ctx).text,
                options=_pick_options,
                save_as="ticket",
                next="end.picked",
                help="thread.help_pick",
            ),
        ),
        endings={"end.picked": lambda a, ctx: Outcome(start=MENU_FLOW, answers={"ticket": a.get("ticket", "")})},
        known_msgids=known_msgids,
    )
    menu = Flow.build(
        MENU_FLOW,
        1,
        (
            Step(
                "choose",
                prompt=_menu_prompt,
                options=_menu_options,
                next=lambda v, a: f"end.{v}",
                help="thread.help_menu",
            ),
        ),
        endings={
            "end.informazioni": lambda a, ctx: Outcome(start=INFO_FLOW, answers=a),
            "end.messaggio": _open_for_writing,
            "end.ritirare": lambda a, ctx: Outcome(start=WITHDRAW_FLOW, answers=a),
        },
        targets={"choose": ("end.informazioni", "end.messaggio", "end.ritirare")},
        known_msgids=known_msgids,
    )
    info = Flow.build(
        INFO_FLOW,
        1,
        (Step("info", prompt=_ask_info, parse=_parse_info, save_as="info", next="end.added", help="thread.help_info"),),
        endings={"end.added": _info_added},
        known_msgids=known_msgids,
    )
    withdraw = Flow.build(
        WITHDRAW_FLOW,
        1,
        (
            Step(
                "confirm",
                prompt=_ask_withdraw,
                options=YES_NO,
                next=lambda v, a: "end.withdrawn" if v == "si" else "end.kept",
                help="thread.help_withdraw",
                retry="common.retry_choice",
            ),
        ),
        endings={"end.withdrawn": _withdrawn, "end.kept": _kept},
        targets={"confirm": ("end.withdrawn", "end.kept")},
        known_msgids=known_msgids,
    )
    return pick, menu, info, withdraw
