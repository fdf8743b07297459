"""The home menu shown when no flow is running: report a need, my needs, privacy."""

from __future__ import annotations

from conversations.flow import Flow, Step
from conversations.flows import intake, request
from conversations.messages import Msg, Option, Reply
from conversations.effects import Effect, LanguageChanged
from conversations.rights import OFFER_FLOW, language_offer
from conversations.types import Answer, Answers, Context, Outcome, Retry
from conversations.vocabulary import OPEN_STATUSES

FLOW_ID = "menu"
VERSION = 1

OPTIONS = (
    Option("nuovo", Msg("menu.new"), ("segnala", "segnalare", "bisogno", "richiesta", "nuova", "new")),
    Option("miei", Msg("menu.mine"), ("mie", "mie richieste", "stato", "ticket", "mine")),
    Option("privacy", Msg("menu.privacy"), ("dati", "informativa")),
)


def my_needs(ctx: Context) -> Reply:
    """The citizen's needs, newest first: who holds each, its status and since when (the pipeline loads them into ctx)."""
    return request.needs_list(ctx)


def privacy_notice(ctx: Context) -> Reply:
    return Reply(Msg("privacy.notice", {"controller": ctx.controller, "retention_days": ctx.retention_days}))


def _mine(answers: Answers, ctx: Context) -> Outcome:
    if any(n.status in OPEN_STATUSES for n in ctx.needs):  # each open one can be picked (conversations/thread.py)
        return Outcome(start=request.MINE_FLOW)
    return Outcome(replies=(my_needs(ctx),))


def _privacy(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(privacy_notice(ctx),))


def _new(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(start="intake")


def _told(answers: Answers, ctx: Context) -> Outcome:
    known = answers.get("told")
    return Outcome(start="intake", answers=known if isinstance(known, dict) else {})


def _need_told(text: str, ctx: Context) -> dict[str, object] | None:
    """A need told in one's own words, when we can tell its category (by its words or the model)."""
    if not intake.about_a_need(text, ctx):
        return None
    known = intake.told(text, ctx)
    return known if known["suggested"] else None


def _menu_told(answer: Answer, answers: Answers, ctx: Context) -> object:
    """Words that are no choice: another language is offered its own, a need told starts the intake."""
    offer = language_offer(answer.text, ctx)
    if offer is not None:
        return {"offer": dict(offer.answers)}
    known = _need_told(answer.text, ctx)
    return {"told": known} if known is not None else Retry("menu.retry")


def _offered(answers: Answers, ctx: Context) -> Outcome:
    offer = answers.get("offer")
    return Outcome(start=OFFER_FLOW, answers=offer if isinstance(offer, dict) else {})


def _switch(value: object, ctx: Context) -> tuple[Effect, ...]:
    """Written to in the offered language from this answer on (the offer itself is in it)."""
    if isinstance(value, dict) and isinstance(value.get("offer"), dict):
        return (LanguageChanged(language=str(value["offer"]["offered"]), at=ctx.now),)
    return ()


def _after_words(value: object, answers: Answers) -> str:
    if isinstance(value, dict):
        return "end.lingua" if "offer" in value else "end.racconta"
    return f"end.{value}"


def opening(text: str, ctx: Context) -> Outcome | None:
    """The first message of a conversation: another language is offered its own; a need told at
    once starts the intake with it (its category to confirm); anything else gets the menu, and so
    does a "/command" nobody has (it is no sentence in any language)."""
    if text.lstrip().startswith("/"):
        return None
    offer = language_offer(text, ctx)
    if offer is not None:
        return offer
    known = _need_told(text, ctx)
    return Outcome(start=intake.FLOW_ID, answers=known) if known is not None else None


STEPS = (
    Step(
        "choose",
        prompt=Msg("menu.ask"),
        options=OPTIONS,
        otherwise=_menu_told,
        save=lambda v, a: v if isinstance(v, dict) else {},
        emit=_switch,
        next=_after_words,
        help="menu.help",
        retry="menu.retry",
    ),
)


def build(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        FLOW_ID,
        VERSION,
        STEPS,
        endings={"end.nuovo": _new, "end.miei": _mine, "end.privacy": _privacy, "end.racconta": _told, "end.lingua": _offered},
        targets={"choose": ("end.nuovo", "end.miei", "end.privacy", "end.racconta", "end.lingua")},
        known_msgids=known_msgids,
    )
