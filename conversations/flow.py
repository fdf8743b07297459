"""Flows as data: a `Step` declares its question, options, parser and next step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from conversations.command import Reads, Who
from conversations.effects import Effect
from conversations.messages import Msg, Option, Reply
from conversations.types import Answer, Answers, Context, Outcome

Parser = Callable[[Answer, Answers, Context], object]
"""Returns the parsed value, or a `Retry` with a kind message."""

Next = str | Callable[[object, Answers], str]
Options = tuple[Option, ...] | Callable[[Answers, Context], tuple[Option, ...]]
Prompt = Msg | Callable[[Answers, Context], Msg]
Ending = Callable[[Answers, Context], Outcome]
Gate = Callable[[Context], Reply | None]
"""Whether a flow may start now: None, or the kind reply that says why not (the daily cap on new needs)."""


def take_choice(answer: Answer, answers: Answers, ctx: Context) -> object:
    """The default parser for a step with options: the payload the engine matched."""
    return answer.choice


@dataclass(frozen=True, slots=True)
class Step:
    """One question.

    Example: ``Step("urgency", prompt=Msg("intake.ask_urgency"), options=URGENCY,
    save_as="urgency", next="contact", help="intake.help_urgency")``.
    """

    id: str
    """Stored in the conversation row: lower-case words, e.g. ``"comune"``."""
    prompt: Prompt
    """The question, a msgid (or a function of the answers, e.g. the summary)."""
    next: Next
    """The next step or ending id, or a function of the parsed value choosing it."""
    help: str
    """Msgid explaining this question, shown on /aiuto and after repeated misses."""
    options: Options = ()
    """Choices offered; the engine matches number, word and button before `parse`."""
    parse: Parser = take_choice
    """Turns the answer into a value or a `Retry`; pure."""
    save_as: str | None = None
    """Answer key the value is stored under, e.g. ``"urgency"``."""
    save: Callable[[object, Answers], Mapping[str, object]] | None = None
    """Custom storing when one answer fills several keys (the comune look-up)."""
    retry: str | None = None
    """Msgid shown when no option matched, e.g. ``"intake.retry_urgency"``."""
    skip: Callable[[Answers, Context], bool] | None = None
    """Skip this step when true, e.g. consent already given."""
    skip_to: str | None = None
    """Where a skipped step leads when `next` is a function, e.g. ``"category"``."""
    emit: Callable[[object, Context], tuple[Effect, ...]] | None = None
    """Effects of a valid answer, e.g. ``ConsentGiven`` when the notice is accepted."""
    otherwise: Parser | None = None
    """Parses typed words that matched no option (a need told in one's own words at the category
    question); without it, or when it returns a `Retry`, the question is asked again."""
    reads: frozenset[Reads] = frozenset()
    """What an answer to this step needs loaded first (the confirmation reads `Reads.COVERAGE`)."""

    def store(self, value: object, answers: Answers) -> Mapping[str, object]:
        if self.save is not None:
            return self.save(value, answers)
        return {self.save_as: value} if self.save_as else {}


class FlowError(ValueError):
    """A flow definition is broken; raised when the flow is built, never during a chat."""


@dataclass(frozen=True, slots=True)
class Flow:
    """A named, versioned set of steps with endings.

    Bump `version` when a step's meaning changes: stored conversations of an
    older version restart politely instead of resuming at a step that moved.
    """

    id: str
    version: int
    first: str
    steps: Mapping[str, Step]
    endings: Mapping[str, Ending] = field(default_factory=dict)
    editable: frozenset[str] = frozenset()
    """Steps the citizen may correct from the summary."""
    summary: str | None = None
    """The step that shows the summary; corrections return to it."""
    who: Who = Who.ANYONE
    """Who may answer its questions: a staff flow has the sender's role looked up again each turn."""
    reads: frozenset[Reads] = frozenset()
    """What its questions read, loaded by `bot/reads` like a command's (e.g. the categories)."""
    gate: Gate | None = None
    """Checked whenever the flow starts; a reply instead of its first question when it may not."""

    @classmethod
    def build(
        cls,
        id: str,
        version: int,
        steps: Iterable[Step],
        *,
        endings: Mapping[str, Ending],
        editable: Iterable[str] = (),
        summary: str | None = None,
        targets: Mapping[str, Iterable[str]] | None = None,
        known_msgids: Iterable[str] | None = None,
        who: Who = Who.ANYONE,
        reads: Iterable[Reads] = (),
        gate: Gate | None = None,
    ) -> Flow:
        """Build and validate a flow.

        Args:
            targets: for steps whose `next` is a function, the ids it may return;
                needed to check that every step can be reached.
            known_msgids: when given, every static msgid must be among them.
        """
        steps = tuple(steps)
        if not steps:
            raise FlowError(f"flow {id!r} has no steps")
        by_id: dict[str, Step] = {}
        for st in steps:
            if st.id in by_id:
                raise FlowError(f"flow {id!r}: step {st.id!r} is defined twice")
            if st.id in endings:
                raise FlowError(f"flow {id!r}: step {st.id!r} has the name of an ending")
            by_id[st.id] = st
        targets = targets or {}
        exits: dict[str, tuple[str, ...]] = {}
        for st in steps:
            if isinstance(st.next, str):
                exits[st.id] = (st.next,)
            elif st.id in targets:
                exits[st.id] = tuple(targets[st.id])
            else:
                raise FlowError(f"flow {id!r}: step {st.id!r} chooses its next step but declares no targets")
            if st.skip_to is not None:
                exits[st.id] = (*exits[st.id], st.skip_to)
            for target in exits[st.id]:
                if target not in by_id and target not in endings:
                    raise FlowError(f"flow {id!r}: step {st.id!r} goes to unknown step {target!r}")
        extra = set(editable) | ({summary} if summary else set())
        for name in extra:
            if name not in by_id:
                raise FlowError(f"flow {id!r}: {name!r} is not a step")
        # Corrections jump from the summary to editable steps, so they count as reachable.
        seen, todo = set(), [steps[0].id, *editable]
        while todo:
            cur = todo.pop()
            if cur in seen or cur in endings:
                continue
            seen.add(cur)
            todo.extend(exits.get(cur, ()))
        unreachable = [s.id for s in steps if s.id not in seen]
        if unreachable:
            raise FlowError(f"flow {id!r}: unreachable step(s) {', '.join(unreachable)}")
        if known_msgids is not None:
            known = set(known_msgids)
            for st in steps:
                for msgid in _static_msgids(st):
                    if msgid not in known:
                        raise FlowError(f"flow {id!r}: step {st.id!r} uses msgid {msgid!r} missing from the catalog")
        return cls(
            id=id,
            version=version,
            first=steps[0].id,
            steps=by_id,
            endings=dict(endings),
            editable=frozenset(editable),
            summary=summary,
            who=who,
            reads=frozenset(reads),
            gate=gate,
        )


def _static_msgids(st: Step) -> Iterable[str]:
    yield st.help
    if st.retry:
        yield st.retry
    if isinstance(st.prompt, Msg):
        yield st.prompt.id
    if not callable(st.options):
        for option in st.options:
            if isinstance(option.label, Msg):
                yield option.label.id
