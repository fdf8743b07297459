"""The citizen's side of a request: `/miei` with its open requests to pick, a request's menu (add
information, write to the cooperative, withdraw), and the withdrawal's confirmation. Pure."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from conversations._text import clean
from conversations.engine import Builder, Engine
from conversations.flow import Flow, Step
from conversations.messages import Msg, Option, Reply
from conversations.rights import YES_NO
from conversations.thread_effects import CitizenWrote, NeedWithdrawn, ThreadOpened
from conversations.types import Answer, Answers, Context, NeedSummary, Outcome, Retry
from conversations.vocabulary import OPEN_STATUSES, NeedStatus

MAX_MESSAGE_CHARS: Final = 2000
"""What one thread message keeps; longer text is cut (a Telegram message is 4096, a WhatsApp body 1600)."""
OPEN_FOR: Final = timedelta(hours=24)
"""How long a conversation with the cooperative stays open after its last message, either way."""
MINE_FLOW: Final = "mie_richieste"
MENU_FLOW: Final = "richiesta_persona"
INFO_FLOW: Final = "aggiungi_informazioni"
WITHDRAW_FLOW: Final = "ritiro"


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


def can_write(need: NeedSummary | None) -> bool:
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


def open_ones(ctx: Context) -> tuple[NeedSummary, ...]:
    return tuple(n for n in ctx.needs if n.status in OPEN_STATUSES)


def needs_list(ctx: Context) -> Reply:
    """`/miei`: every request with its holder, status and since when; how to act on an open one."""
    if not ctx.needs:
        return Reply(Msg("needs.none"))
    hint: object = Msg("needs.pick_hint") if open_ones(ctx) else ""
    return Reply(Msg("needs.list", {"items": tuple(item(n) for n in ctx.needs), "hint": hint}))


def mine(e: Engine, b: Builder, ctx: Context) -> None:
    """The list; with open requests, each one is an option that opens its menu."""
    if open_ones(ctx):
        e.start(b, MINE_FLOW, ctx)
    else:
        e.inform(b, ctx, needs_list(ctx))


def _pick_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return tuple(Option(n.ticket, f"{n.ticket} – {n.category_label}", (n.ticket.replace("-", ""),)) for n in open_ones(ctx))



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



# --- the citizen's flows ---------------------------------------------------------


def _need(answers: Answers, ctx: Context) -> NeedSummary | None:
    return theirs(ctx, ticket=str(answers.get("ticket", "")))


def _menu_prompt(answers: Answers, ctx: Context) -> Msg:
    need = _need(answers, ctx)
    return Msg("thread.need_menu", {"item": item(need) if need is not None else str(answers.get("ticket", ""))})


def _menu_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    need = _need(answers, ctx)
    options = [Option("informazioni", Msg("thread.option_add"), ("aggiungi", "aggiungere", "informazioni", "aggiungi informazioni"))]
    if can_write(need):
        options.append(Option("messaggio", Msg("thread.option_write"), ("scrivi", "scrivere", "cooperativa", "messaggio")))
    options.append(Option("ritirare", Msg("thread.option_withdraw"), ("ritira", "ritirare", "ritiro", "ritirala")))
    return tuple(options)


def _open_for_writing(answers: Answers, ctx: Context) -> Outcome:
    need = _need(answers, ctx)
    if not can_write(need):
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
