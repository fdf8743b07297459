"""`/annuncio [comune NOME | categoria NOME]`: the text, a preview with how many it reaches, then "sì"."""

from __future__ import annotations

from typing import Final

from conversations._text import clean, fold
from conversations.admin.common import command_on, confirmed_flow, start_flow
from conversations.command import CommandSpec, Reads
from conversations.effects import BroadcastRequested
from conversations.engine import Builder, Engine
from conversations.flow import Flow, Step
from conversations.messages import Msg, Reply
from conversations.types import Answer, Answers, Context, Outcome, Retry

BROADCAST_FLOW: Final = "annuncio"
MAX_BROADCAST_CHARS: Final = 1000
"""Fits one WhatsApp body (1600) and one Telegram message after the greeting line."""


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


def _announce(e: Engine, b: Builder, ctx: Context, answers: dict[str, object]) -> None:
    start_flow(e, b, ctx, BROADCAST_FLOW, answers)


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
    return confirmed_flow(
        BROADCAST_FLOW, 1, (text,), summary=_preview, done=_broadcast_send, known_msgids=known_msgids, reads=(Reads.AUDIENCE,)
    )


SPECS: Final[tuple[CommandSpec, ...]] = (
    command_on("annuncio", ("broadcast",), _announce, target=_audience, usage="admin.usage_annuncio"),
)
