"""Scheduled questions to the citizen: "is your request still needed?" and, after resolution, "how did it go?"."""

from __future__ import annotations

from types import MappingProxyType

from conversations.effects import FollowUpAnswered, NeedReopened, SatisfactionGiven
from conversations.flow import Flow, Step
from conversations.messages import Msg, Option, Reply
from conversations.parsers import MAX_DESCRIPTION_CHARS
from conversations._text import clean, fold
from conversations.types import Answer, Answers, Context, Outcome, State
from conversations.vocabulary import NeedStatus

STILL_NEEDED_ID = "followup"
SATISFACTION_ID = "satisfaction"
VERSION = 1

STILL_NEEDED_OPTIONS = (
    Option("si", Msg("followup.yes"), ("sì", "si", "yes", "ancora", "serve"), means="yes"),
    Option("no", Msg("followup.no"), ("no", "non serve", "non serve piu"), means="no"),
    Option("da_sola", Msg("followup.by_itself"), ("da sola", "risolta", "risolto", "sola", "resolved")),
)
NOT_RESOLVED = "non_risolta"
SCORE_OPTIONS = (
    *(Option(str(n), str(n), ()) for n in range(1, 6)),
    Option(
        NOT_RESOLVED,
        Msg("satisfaction.not_resolved"),
        ("non si è risolta", "non si e risolta", "non è risolta", "non risolta", "non risolto", "not resolved"),
    ),
)
"""A score, or "6. Non si è risolta": then the need opens again and its cooperative is told."""
NO_COMMENT = frozenset({"no", "niente", "nulla", "nessuno", "no grazie", "none"})


def _ticket(answers: Answers) -> str:
    return str(answers.get("ticket", ""))


def _need_id(answers: Answers) -> str:
    return str(answers.get("need_id", ""))


def _still_needed_done(answers: Answers, ctx: Context) -> Outcome:
    answer = str(answers["answer"])
    effect = FollowUpAnswered(need_id=_need_id(answers), answer=answer, at=ctx.now)
    msgid = "followup.thanks_open" if answer == "si" else "followup.thanks_closed"
    return Outcome(replies=(Reply(Msg(msgid, {"ticket": _ticket(answers)})),), effects=(effect,))


def _parse_comment(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)[:MAX_DESCRIPTION_CHARS]
    return "" if fold(text) in NO_COMMENT else text


def _satisfaction_done(answers: Answers, ctx: Context) -> Outcome:
    comment = str(answers.get("comment") or "") or None
    effect = SatisfactionGiven(need_id=_need_id(answers), score=int(str(answers["score"])), comment=comment, at=ctx.now)
    return Outcome(replies=(Reply(Msg("satisfaction.thanks")),), effects=(effect,))


def _reopened(answers: Answers, ctx: Context) -> Outcome:
    effect = NeedReopened(
        need_id=_need_id(answers), ticket=_ticket(answers), from_status=NeedStatus.RESOLVED, operator_id=None, note=None, at=ctx.now
    )
    return Outcome(replies=(Reply(Msg("satisfaction.reopened", {"ticket": _ticket(answers)})),), effects=(effect,))


def build_still_needed(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        STILL_NEEDED_ID,
        VERSION,
        (
            Step(
                "still_needed",
                prompt=lambda answers, ctx: Msg("followup.ask", {"ticket": _ticket(answers)}),
                options=STILL_NEEDED_OPTIONS,
                save_as="answer",
                next="end.answered",
                help="followup.help",
                retry="followup.retry",
            ),
        ),
        endings={"end.answered": _still_needed_done},
        known_msgids=known_msgids,
    )


def build_satisfaction(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        SATISFACTION_ID,
        VERSION,
        (
            Step(
                "score",
                prompt=lambda answers, ctx: Msg("satisfaction.ask", {"ticket": _ticket(answers)}),
                options=SCORE_OPTIONS,
                save_as="score",
                next=lambda value, answers: "end.reopened" if value == NOT_RESOLVED else "comment",
                help="satisfaction.help",
                retry="satisfaction.retry",
            ),
            Step(
                "comment",
                prompt=Msg("satisfaction.ask_comment"),
                parse=_parse_comment,
                save_as="comment",
                next="end.rated",
                help="satisfaction.help_comment",
            ),
        ),
        endings={"end.rated": _satisfaction_done, "end.reopened": _reopened},
        targets={"score": ("comment", "end.reopened")},
        known_msgids=known_msgids,
    )


def begin(flow: Flow, state: State, ctx: Context, *, need_id: str, ticket: str) -> tuple[State, Reply]:
    """Put an idle citizen at the first question of `flow` about one need; returns the state and the question.

    The scheduler calls this (it is not an inbound turn): the citizen's answer then
    arrives as an ordinary inbound and the engine takes it from there.
    """
    answers = MappingProxyType({"need_id": need_id, "ticket": ticket})
    step = flow.steps[flow.first]
    new_state = State(
        flow_id=flow.id,
        flow_version=flow.version,
        step_id=step.id,
        answers=answers,
        version=state.version + 1,
        updated_at=ctx.now,
    )
    prompt = step.prompt(answers, ctx) if callable(step.prompt) else step.prompt
    options = step.options(answers, ctx) if callable(step.options) else step.options
    return new_state, Reply(prompt, options=options)
