"""Citizens' rights from the chat: erase my data, change language, stop or resume announcements."""

from __future__ import annotations

from typing import Final

from conversations._text import fold
from conversations.effects import (
    BroadcastsAccepted,
    BroadcastsRefused,
    DataErasureRequested,
    Effect,
    LanguageChanged,
    RightsExercised,
)
from conversations.command import CommandSpec
from conversations.engine import Builder, Engine
from conversations.flow import Flow, Step
from conversations.i18n import language_option
from conversations.messages import Msg, Option, Reply
from conversations.types import Answer, Answers, Context, Outcome

ERASE_FLOW: Final = "cancella_dati"
LANGUAGE_FLOW: Final = "lingua"
OFFER_FLOW: Final = "lingua_offerta"
MIN_OFFER_WORDS: Final = 2
"""One word is too little to switch anyone's language on ("buongiorno" from an English reader)."""
CJK: Final = 0x2E80
"""From here on, scripts written without spaces (Chinese, Japanese): each sign counts as a word."""
LINGUA_FRANCA: Final = "en"
"""Offered to someone writing in a language we have no catalog for."""
LANGUAGES: Final = (Option("it", "Italiano", ("italiano", "ita")), Option("en", "English", ("english", "inglese", "eng")))
"""The languages of cooperatives' digests. Citizens are offered every language with a catalog
(`Context.languages`, named by `i18n.language_option`): adding one is only a .po file."""


def language_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    """Every language with a catalog, each in its own name, so anyone can find theirs."""
    return tuple(language_option(code) for code in ctx.languages)

YES_NO: Final = (
    Option("si", Msg("common.yes"), ("sì", "si", "yes", "ok", "confermo", "conferma"), means="yes"),
    Option("no", Msg("common.no"), ("no", "annulla"), means="no"),
)


def _erase(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("rights.erased")),), effects=(DataErasureRequested(at=ctx.now),))


def _keep(answers: Answers, ctx: Context) -> Outcome:
    return Outcome(replies=(Reply(Msg("rights.erase_kept")),))


def _language(answers: Answers, ctx: Context) -> Outcome:
    lang = str(answers["language"])
    return Outcome(
        replies=(Reply(Msg("rights.language_set")),),
        effects=(LanguageChanged(language=lang, at=ctx.now), RightsExercised(right="lingua", at=ctx.now)),
    )


def build_erase(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        ERASE_FLOW,
        1,
        (
            Step(
                "confirm",
                prompt=Msg("rights.erase_ask"),
                options=YES_NO,
                next=lambda v, a: "end.erase" if v == "si" else "end.keep",
                help="rights.erase_help",
                retry="common.retry_choice",
            ),
        ),
        endings={"end.erase": _erase, "end.keep": _keep},
        targets={"confirm": ("end.erase", "end.keep")},
        known_msgids=known_msgids,
    )


def language_offer(text: str, ctx: Context) -> Outcome | None:
    """A first message in another language: switch to it (or to English, when we have no catalog
    for it) and ask whether that is right, in that language; None for the citizen's own language."""
    if len(text.split()) < MIN_OFFER_WORDS and sum(ch.isalpha() and ord(ch) >= CJK for ch in text) < MIN_OFFER_WORDS:
        return None
    found = ctx.detect_language(text) if ctx.detect_language is not None else None
    if found is None or found == ctx.language:
        return None
    offered = found if found in ctx.languages else LINGUA_FRANCA
    if offered == ctx.language or offered not in ctx.languages:
        return None
    return Outcome(
        effects=(LanguageChanged(language=offered, at=ctx.now),),
        start=OFFER_FLOW,
        answers={"offered": offered, "previous": ctx.language},
    )


def _offer_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    offered, previous = str(answers.get("offered", LINGUA_FRANCA)), str(answers.get("previous", "it"))
    keep, back = language_option(offered), language_option(previous)
    yes_words = ("si", "sì", "yes", "ok", "okay", "yes please", "sure", "thanks", "thank you")
    return (Option(offered, keep.label, (*keep.aliases, *yes_words)), Option(previous, back.label, back.aliases))


def _offer_answered(answer: Answer, answers: Answers, ctx: Context) -> object:
    """Any other words: still their language unless they are written in the previous one."""
    found = ctx.detect_language(answer.text) if ctx.detect_language is not None else None
    previous = str(answers.get("previous", "it"))
    return previous if found == previous else str(answers.get("offered", LINGUA_FRANCA))


def _offer_taken(answers: Answers, ctx: Context) -> Outcome:
    chosen, offered = str(answers.get("chosen")), str(answers.get("offered"))
    effects: tuple[Effect, ...] = (RightsExercised(right="lingua", at=ctx.now),)
    if chosen != offered:  # back to the language they had: say it in that one
        effects = (LanguageChanged(language=chosen, at=ctx.now), *effects)
    return Outcome(replies=(Reply(Msg("rights.language_set")),), effects=effects, start="menu")


def build_language_offer(known_msgids: set[str] | None = None) -> Flow:
    """"Hello, I need help" as a first message: written to in English from then on, and asked to confirm."""
    return Flow.build(
        OFFER_FLOW,
        1,
        (
            Step(
                "confirm",
                prompt=Msg("rights.language_offer"),
                options=_offer_options,
                otherwise=_offer_answered,
                save_as="chosen",
                next="end.set",
                help="rights.language_help",
            ),
        ),
        endings={"end.set": _offer_taken},
        known_msgids=known_msgids,
    )


def build_language(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        LANGUAGE_FLOW,
        1,
        (
            Step(
                "choose",
                prompt=Msg("rights.language_ask"),
                options=language_options,
                save_as="language",
                next="end.set",
                help="rights.language_help",
                retry="common.retry_choice",
            ),
        ),
        endings={"end.set": _language},
        known_msgids=known_msgids,
    )


def _language_named(wanted: str, ctx: Context) -> str | None:
    """"en", "english", "inglese" -> "en" (when there is an English catalog); None for anything else."""
    return next((o.payload for o in language_options({}, ctx) if wanted and (wanted == o.payload or wanted in o.aliases)), None)


def _erase_cmd(e: Engine, b: Builder, ctx: Context) -> None:
    b.effects.append(RightsExercised(right="cancellazione_chiesta", at=ctx.now))
    e.start(b, ERASE_FLOW, ctx)


def _language_cmd(e: Engine, b: Builder, ctx: Context) -> None:
    chosen = _language_named(fold(b.call.rest) if b.call is not None else "", ctx)
    if chosen is None:
        e.start(b, LANGUAGE_FLOW, ctx)
        return
    b.effects.extend((LanguageChanged(language=chosen, at=ctx.now), RightsExercised(right="lingua", at=ctx.now)))
    e.inform(b, ctx, Reply(Msg("rights.language_set")))


def _stop_cmd(e: Engine, b: Builder, ctx: Context) -> None:
    b.effects.extend((BroadcastsRefused(at=ctx.now), RightsExercised(right="annunci_no", at=ctx.now)))
    e.inform(b, ctx, Reply(Msg("rights.broadcasts_stopped")))


def _resume_cmd(e: Engine, b: Builder, ctx: Context) -> None:
    b.effects.extend((BroadcastsAccepted(at=ctx.now), RightsExercised(right="annunci_si", at=ctx.now)))
    e.inform(b, ctx, Reply(Msg("rights.broadcasts_resumed")))


SPECS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec("cancella_dati", _erase_cmd, aliases=("cancellami", "erase_my_data")),
    CommandSpec(
        "lingua",
        _language_cmd,
        aliases=("language", "lang"),
        words=lambda args, ctx: len(args) == 1 and _language_named(fold(args[0]), ctx) is not None,
    ),
    CommandSpec("stop_annunci", _stop_cmd, aliases=("noannunci", "stop_news")),
    CommandSpec("ricevi_annunci", _resume_cmd, aliases=("siannunci",)),
)
"""The rights commands; everyone may use them, staff included (they are citizens too)."""
