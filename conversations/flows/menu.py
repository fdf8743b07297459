"""The home menu shown when no flow is running: report a need, my needs, privacy."""

from __future__ import annotations

from conversations.flow import Flow, Step
from conversations.messages import Msg, Option, Reply
from conversations.types import Answers, Context, Outcome

FLOW_ID = "menu"
VERSION = 1

OPTIONS = (
    Option("nuovo", Msg("menu.new"), ("segnala", "segnalare", "bisogno", "richiesta", "nuova", "new")),
    Option("miei", Msg("menu.mine"), ("mie", "mie richieste", "stato", "ticket", "mine")),
    Option("privacy", Msg("menu.privacy"), ("dati", "informativa")),
)


def my_needs(ctx: Context) -> Reply:
    """The citizen's needs with their status, newest first (the pipeline loads them into ctx)."""
    if not ctx.needs:
        return Reply(Msg("needs.none"))
    items = tuple(
        Msg(
            "needs.item",
            {"ticket": n.ticket, "category": n.category_label, "status": Msg(f"status.{n.status}"), "date": n.created_at},
        )
        for n in ctx.needs
    )
    return Reply(Msg("needs.list", {"items": items}))


def one_need(ctx: Context, ticket: str) -> Reply:
    """One of the citizen's needs by its ticket, or a kind word when the code is not theirs."""
    need = next((n for n in ctx.needs if n.ticket == ticket), None)
    if need is None:
        return Reply(Msg("needs.not_found", {"ticket": ticket}))
    item = Msg(
        "needs.item",
        {"ticket": need.ticket, "category": need.category_label, "status": Msg(f"status.{need.status}"), "date": need.created_at},
    )
    return Reply(Msg("needs.one", {"item": item}))


def privacy_notice(ctx: Context) -> Reply:
    return Reply(Msg("privacy.notice", {"controller": ctx.controller, "retention_days": ctx.retention_days}))


def _mine(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(my_needs(ctx),))


def _privacy(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(privacy_notice(ctx),))


def _new(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(start="intake")


STEPS = (
    Step(
        "choose",
        prompt=Msg("menu.ask"),
        options=OPTIONS,
        next=lambda v, a: f"end.{v}",
        help="menu.help",
        retry="menu.retry",
    ),
)


def build(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        FLOW_ID,
        VERSION,
        STEPS,
        endings={"end.nuovo": _new, "end.miei": _mine, "end.privacy": _privacy},
        targets={"choose": ("end.nuovo", "end.miei", "end.privacy")},
        known_msgids=known_msgids,
    )
