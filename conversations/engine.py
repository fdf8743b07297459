"""The pure conversation engine: one inbound event in, the next state, replies and effects out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from rapidfuzz import fuzz

from conversations._text import clean, fold, small_int
from conversations.command import Call, CommandSpec, MenuEntry, Reads, Who
from conversations.channels import traits_of
from conversations.effects import (
    CommandRefused,
    ConversationCancelled,
    ConversationExpired,
    Effect,
    HelpOffered,
)
from conversations import listening
from conversations.offered import recalled, remembered
from conversations.flow import Flow, Step
from conversations.ticket import is_ticket
from conversations.understanding import NEGATORS, Intent, Polarity, intent_of, is_english, negated_positions, polarity
from conversations.messages import HeardOutcome, Inbound, Msg, Option, Reply, Transcript
from conversations.types import Answer, Answers, Context, Outcome, Retry, State, Turn
from conversations.understanding.meaning import by_meaning

logger = logging.getLogger(__name__)

MAX_MISSES_PER_STEP: Final = 3
"""Wrong answers to one question before we stop repeating it and offer help."""

MAX_STEPS_PER_TURN: Final = 20
"""Steps one inbound may walk through (skips included): a guard against a cycle in a flow."""

FUZZY_CUTOFF: Final = 80
"""rapidfuzz ratio (0-100) above which a typed word selects an option ("spessa" -> "spesa")."""

MAX_TEXT_CHARS: Final = 8192
"""Longer input is cut before parsing; parsers apply their own, smaller limits."""

MAX_COMMAND_CHARS: Final = 64
"""A command word longer than this is not a command (Telegram's own limit is 32)."""

INTENT_COMMANDS: Final = {
    Intent.BACK: "indietro",
    Intent.HELP: "aiuto",
    Intent.CONFUSED: "aiuto",
    Intent.STOP: "annulla",
    Intent.MY_REQUESTS: "miei",
}
"""The command each intent said in words calls."""
TICKET_COMMAND: Final = "codice"
"""A ticket code typed on its own calls this command (where no free text is awaited)."""
ANYWHERE: Final = frozenset({Intent.BACK, Intent.HELP, Intent.CONFUSED, Intent.STOP})
"""Intents understood at free-text questions too: there they are the whole message, never a description."""


class Unrecognised:
    """`Engine.step`'s default for `call`: recognise the message there (pure tests, tools)."""


UNRECOGNISED: Final = Unrecognised()

Aside = Callable[["Engine", "Builder", Inbound, Context], bool]
"""A message that belongs elsewhere than the current question (a need's thread, `conversations/thread.py`):
handled (True) after the commands and before the flow."""
Phrases = Callable[[str], tuple[str, str] | None]
"""A whole message that asks for a command in words, with its argument: "voglio ritirare K7M-R4P" → ("ritira", "K7M-R4P")."""

Opening = Callable[[str, Context], Outcome | None]
"""What the first message of a conversation (no flow running) means, when it is more than a greeting:
a need told at once, a message in another language. None: the home menu, as for "ciao"."""


@dataclass(slots=True)
class Builder:
    state: State
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    budget: int = MAX_STEPS_PER_TURN
    inbound: Inbound | None = None
    call: Call | None = None
    """The command being run, recognised once (`Engine.recognise`): its handler reads its arguments here."""


class Engine:
    """Holds the flows and the global commands; `step` is its only entry point."""

    def __init__(
        self,
        flows: Mapping[str, Flow],
        *,
        home: str,
        entry: str,
        commands: Iterable[CommandSpec] = (),
        opening: Opening | None = None,
        aside: Aside | None = None,
        phrases: Phrases | None = None,
    ) -> None:
        self.flows = dict(flows)
        self.aside = aside
        self.phrases = phrases
        self.home = home
        self.entry = entry
        self.opening = opening
        self.specs: dict[str, CommandSpec] = {}
        """Every name and alias (folded) → its spec."""
        for spec in commands:
            self.add(spec)

    # --- public -----------------------------------------------------------

    def add(self, spec: CommandSpec) -> None:
        """Add a global command, checked before the current step (like PTB's fallbacks)."""
        for name in spec.names:
            key = fold(name)
            if key in self.specs:
                raise ValueError(f"command name {name!r} is taken by /{self.specs[key].name}")
            self.specs[key] = spec
        if spec.menu is not None and not {spec.menu.italian, spec.menu.english} <= set(spec.names):
            raise ValueError(f"/{spec.name}: its menu names a name it does not answer to")

    @property
    def commands(self) -> tuple[CommandSpec, ...]:
        """Each command once, in the order added."""
        return tuple(dict.fromkeys(self.specs.values()))

    @property
    def menu(self) -> tuple[MenuEntry, ...]:
        """The command menu, in the order the commands were added."""
        return tuple(spec.menu for spec in self.commands if spec.menu is not None)

    def recognise(self, inbound: Inbound, state: State | None = None) -> Call | None:
        """The command a message names, with its arguments, or None: the one parse of a message as a command.

        Whether it really is the command (a plain word followed by words, the sender's role) is
        decided in `step` with the state and the data its spec `reads`, which `bot/` loads first.
        With the `state`, a message that names no command by itself but answers the choices the
        last reply offered outside a flow ("1", "prendo in carico": `conversations.offered`) is
        the command of the chosen option, as if its button had been pressed.
        """
        call = self._named(inbound)
        if state is None or (call is not None and (call.explicit or call.phrase)):
            return call
        picked = self._offered(state, inbound)
        chosen = self._named(replace(inbound, text=None, choice=picked)) if picked is not None else None
        if chosen is None:
            return call
        # "prendo in carico" is the offered /prendo; "nota K7M-R4P prendo le chiavi" stays /nota.
        is_other_command = call is not None and call.spec is not chosen.spec and (call.args or call.spec.alone)
        return call if is_other_command else chosen

    def _offered(self, state: State, inbound: Inbound) -> str | None:
        """The payload of the remembered choice this message picks (by number, words, yes/no, typo), or None."""
        if state.is_active or is_explicit_command(inbound) or not inbound.text:
            return None
        choices = recalled(state.answers)
        picked = match_option(choices, choice=None, text=clean(inbound.text)[:MAX_TEXT_CHARS]) if choices else None
        return picked.payload if picked is not None else None

    def _named(self, inbound: Inbound) -> Call | None:
        """The command the message itself names: a "/command", a button, a command word, a phrase."""
        phrase = self._phrase(inbound)
        if phrase is not None:
            return phrase
        text = inbound.text or inbound.choice or ""
        name = command_name(text, with_arguments=True)
        spec = self.specs.get(name) if name is not None else None
        if spec is None:
            return None
        rest = clean(text).lstrip("/").split(maxsplit=1)
        after = rest[1] if len(rest) > 1 else ""
        explicit = is_explicit_command(inbound)
        if after and not explicit and not traits_of(inbound.channel).word_commands:
            return None  # a sentence that starts with a command's word: never the command here
        return Call(
            spec=spec,
            args=tuple(after.split()),
            rest=after,
            explicit=explicit,
            parsed=spec.parse(after) if spec.parse is not None else None,
        )

    def _phrase(self, inbound: Inbound) -> Call | None:
        """A whole message that asks for a command in words ("torna indietro", "non ho capito")."""
        if is_explicit_command(inbound) or not inbound.text:
            return None
        if is_ticket(inbound.text) and TICKET_COMMAND in self.specs:
            return Call(spec=self.specs[TICKET_COMMAND], args=(inbound.text.strip(),), rest=inbound.text.strip(), phrase=True)
        asked = self.phrases(inbound.text) if self.phrases is not None else None
        if asked is not None and fold(asked[0]) in self.specs:
            return Call(spec=self.specs[fold(asked[0])], args=tuple(asked[1].split()), rest=asked[1], phrase=True)
        wanted = intent_of(inbound.text)
        spec = self.specs.get(INTENT_COMMANDS[wanted]) if wanted is not None else None
        if spec is None:
            return None
        return Call(spec=spec, phrase=True, anywhere=wanted in ANYWHERE, at_first_contact=not is_english(inbound.text))

    def flow_reads(self, state: State) -> tuple[Who, frozenset[Reads]]:
        """Who may answer the flow in progress and what its questions read (staff flows)."""
        flow = self.flows.get(state.flow_id or "") if state.is_active else None
        if flow is None:
            return Who.ANYONE, frozenset()
        step = flow.steps.get(state.step_id or "")
        return flow.who, flow.reads | (step.reads if step is not None else frozenset())

    def step(self, state: State, inbound: Inbound, ctx: Context, call: Call | None | Unrecognised = UNRECOGNISED) -> Turn:
        """One turn; `call` is what `recognise` made of `inbound` (recognised here when not given)."""
        b = Builder(state=state, inbound=inbound)
        b.call = self.recognise(inbound, state) if isinstance(call, Unrecognised) else call
        self._handle(b, inbound, ctx)
        if not b.replies and inbound.transcript is None:  # the contract: never silence (a late transcript is only kept)
            self.prompt_current(b, ctx)
        if not b.state.is_active:  # no question waits: the next message may answer the offered commands
            b.state = replace(b.state, answers=remembered(b.replies))
        new_state = replace(b.state, version=state.version + 1, updated_at=ctx.now)
        return Turn(state=new_state, replies=tuple(b.replies), effects=tuple(b.effects))

    def start(self, b: Builder, flow_id: str, ctx: Context, answers: Mapping[str, object] | None = None) -> None:
        flow = self.flows[flow_id]
        refusal = flow.gate(ctx) if flow.gate is not None else None
        if refusal is not None:  # e.g. the day's new needs are used up: say why and when, start nothing
            b.replies.append(refusal)
            self.finish(b)
            return
        known = MappingProxyType(dict(answers or {}))
        b.state = State(flow_id=flow.id, flow_version=flow.version, version=b.state.version, answers=known)
        self.enter(b, flow, flow.first, ctx)

    def finish(self, b: Builder) -> None:
        b.state = State(version=b.state.version)

    def current(self, b: Builder) -> tuple[Flow, Step] | None:
        s = b.state
        if s.flow_id is None or s.step_id is None:
            return None
        flow = self.flows.get(s.flow_id)
        if flow is None or flow.version != s.flow_version or s.step_id not in flow.steps:
            return None
        return flow, flow.steps[s.step_id]

    def prompt_current(self, b: Builder, ctx: Context, lead: Msg | None = None) -> None:
        """Ask the current question again (or show the home menu when there is none)."""
        here = self.current(b)
        if here is None:
            self.start(b, self.home, ctx)
            return
        flow, st = here
        b.replies.append(_prompt(st, b.state.answers, ctx, lead))

    def enter(self, b: Builder, flow: Flow, step_id: str, ctx: Context) -> None:
        """Move to `step_id` (or to an ending), skipping steps that say so."""
        while True:
            b.budget -= 1
            if b.budget < 0:
                logger.error("flow %s looped at %s", flow.id, step_id)
                self.finish(b)
                b.replies.append(Reply(Msg("common.error")))
                return
            if step_id in flow.endings:
                outcome = flow.endings[step_id](b.state.answers, ctx)
                b.replies.extend(outcome.replies)
                b.effects.extend(outcome.effects)
                self.finish(b)
                if outcome.start is not None:
                    self.start(b, outcome.start, ctx, outcome.answers)
                return
            st = flow.steps[step_id]
            if st.skip is not None and st.skip(b.state.answers, ctx):
                step_id = st.skip_to or _resolve_next(st, None, b.state.answers)
                continue
            b.state = replace(b.state, step_id=st.id, misses=0)
            b.replies.append(_prompt(st, b.state.answers, ctx))
            return

    # --- internals -------------------------------------------------------

    def _handle(self, b: Builder, inbound: Inbound, ctx: Context) -> None:
        s = b.state
        if inbound.transcript is not None:
            self._heard(b, inbound, inbound.transcript, ctx)
            return
        if s.is_active and s.updated_at is not None and ctx.now - s.updated_at > ctx.idle_timeout:
            b.effects.append(ConversationExpired(flow_id=s.flow_id or "", step_id=s.step_id or ""))
            b.replies.append(Reply(Msg("common.expired")))
            self.finish(b)
            self._handle_command_or_start(b, inbound, ctx)
            return
        if s.is_active and self.current(b) is None:
            # A deploy changed the flow under this citizen: start again politely.
            b.replies.append(Reply(Msg("common.flow_changed")))
            self.finish(b)
            self._handle_command_or_start(b, inbound, ctx)
            return
        if inbound.is_unsupported:
            b.replies.append(Reply(Msg("common.unsupported")))
            if s.is_active:
                self.prompt_current(b, ctx)
            return
        if self._run_command(b, inbound, ctx):
            return
        if self.aside is not None and self.aside(self, b, inbound, ctx):
            return
        if not s.is_active:
            b.replies.append(Reply(Msg("common.welcome")))
            if self._open(b, inbound, ctx):
                return
            self.start(b, self.entry if inbound.media or inbound.location else self.home, ctx)
            if (inbound.media or inbound.location) and b.state.is_active:
                self._attach(b, inbound, ctx)
            return
        if inbound.media or inbound.location:
            is_listening = self._attach(b, inbound, ctx)
            if not inbound.text:
                if not is_listening:  # else the transcript asks the question again, or answers it
                    self.prompt_current(b, ctx)
                return
        # Any button press carries its version (a payload, or a position when the payload did
        # not fit Telegram's callback_data): a press on an old question is refused, not applied.
        if inbound.conversation_version is not None and inbound.conversation_version != s.version:
            self.prompt_current(b, ctx, lead=Msg("common.stale_button"))
            return
        if self._confirm_heard(b, inbound, ctx):
            return
        self._answer(b, inbound, ctx)

    def _heard(self, b: Builder, inbound: Inbound, transcript: Transcript, ctx: Context) -> None:
        """A voice note's words came back (`conversations/listening.py`): kept with the audio, and used
        if the question it was sent at is still open."""
        b.state = listening.keep(b.state, transcript)
        if self.current(b) is None or b.state.step_id != transcript.step:
            return  # the conversation moved on: the words stay with the audio, nobody is interrupted
        if transcript.outcome != HeardOutcome.HEARD:
            self.prompt_current(b, ctx, lead=listening.LEADS[transcript.outcome])
        elif self._awaits_own_words(b, ctx):
            b.state, reply = listening.read_back(b.state, transcript.text)
            b.replies.append(reply)
        else:  # a question with options: the words are read like typed ones
            self._answer(b, replace(inbound, text=transcript.text, transcript=None), ctx)

    def _confirm_heard(self, b: Builder, inbound: Inbound, ctx: Context) -> bool:
        """The answer to "Va bene?" after words read back: yes keeps them, no asks again; other words are
        their own answer (False)."""
        b.state, said = listening.pending(b.state)
        if said is None or inbound.media or inbound.location:
            return False
        picked = match_option(listening.HEARD_OPTIONS, choice=inbound.choice, text=clean(inbound.text or ""))
        if picked is None:
            return False
        if picked.means == "yes":
            self._answer(b, replace(inbound, text=said, choice=None), ctx)
        else:
            self.prompt_current(b, ctx, lead=Msg("voice.heard_no"))
        return True

    def _open(self, b: Builder, inbound: Inbound, ctx: Context) -> bool:
        """The first message of a conversation, read by `opening`: True when it started something."""
        text = clean(inbound.text or "")[:MAX_TEXT_CHARS]
        if self.opening is None or not text or inbound.media or inbound.location or inbound.choice is not None:
            return False
        outcome = self.opening(text, ctx)
        if outcome is None:
            return False
        b.replies.extend(outcome.replies)
        b.effects.extend(outcome.effects)
        self.start(b, outcome.start or self.home, ctx, outcome.answers)
        return True

    def _handle_command_or_start(self, b: Builder, inbound: Inbound, ctx: Context) -> None:
        if not self._run_command(b, inbound, ctx):
            self.start(b, self.home, ctx)

    def command_in(self, b: Builder, ctx: Context) -> Call | None:
        """The command this message calls, or None: the rule for plain words lives here.

        A ``/command`` or a button always names its command. A plain word alone does too,
        unless its spec says ``alone=False``. A plain word followed by more words is a
        command only on channels whose traits say so (WhatsApp), only when the conversation is
        not waiting for the sender's own words (a question without options, such as the
        description of a need), and only when the spec's `words` check accepts what follows.
        The sender's role is checked afterwards, as for any command. So "stato di salute
        precario" stays a description, and "stato K7M-R4P risolta" from an operator is a command.
        """
        call, inbound = b.call, b.inbound
        if call is None or inbound is None:
            return None
        if call.explicit:
            return call
        if call.phrase:
            if not call.at_first_contact and not b.state.is_active:
                return None
            return call if call.anywhere or not self._awaits_own_words(b, ctx) else None
        if not call.args:
            return call if call.spec.alone else None
        check = call.spec.words
        if check is None or not traits_of(inbound.channel).word_commands or self._awaits_own_words(b, ctx):
            return None
        return call if check(call.args, ctx) else None

    def _awaits_own_words(self, b: Builder, ctx: Context) -> bool:
        """The current question has no options: whatever the sender writes is their answer."""
        here = self.current(b)
        return here is not None and not _options(here[1], b.state.answers, ctx)

    def _run_command(self, b: Builder, inbound: Inbound, ctx: Context) -> bool:
        call = self.command_in(b, ctx)
        if call is None:
            return False
        if not call.spec.admits(inbound, ctx):
            if call.explicit:
                b.effects.append(CommandRefused(command=call.name))
            return False
        call.spec.handler(self, b, ctx)
        return True

    def _attach(self, b: Builder, inbound: Inbound, ctx: Context) -> bool:
        """Keep the files and position; True when a voice note is being transcribed (the bot waits for it)."""
        is_listening = False
        answers = dict(b.state.answers)
        if inbound.location is not None:
            answers["location"] = [inbound.location.latitude, inbound.location.longitude]
            b.replies.insert(0, Reply(Msg("common.location_received")))
        if inbound.media:
            stored = list(answers.get("media", []))  # type: ignore[call-overload]
            cap = ctx.attachments_per_need
            kept = inbound.media if cap is None else inbound.media[: max(0, cap - len(stored))]
            for m in kept:
                stored.append({"kind": str(m.kind), "ref": m.ref, "content_type": m.content_type, "size": m.size})
            answers["media"] = stored
            is_voice = any(m.kind == "voice" for m in kept)
            queued = listening.queued(b.state, tuple(kept), ctx)
            b.effects.extend(queued)
            is_listening = bool(queued)
            if len(kept) < len(inbound.media):  # the request keeps its first files: the answers stay small
                b.replies.insert(0, Reply(Msg("common.media_limit", {"limit": cap})))
            elif is_listening:
                b.replies.insert(0, Reply(Msg("voice.listening")))
            else:
                b.replies.insert(0, Reply(Msg("common.voice_received" if is_voice else "common.media_received")))
        b.state = replace(b.state, answers=MappingProxyType(answers))
        return is_listening

    def _answer(self, b: Builder, inbound: Inbound, ctx: Context) -> None:
        here = self.current(b)
        assert here is not None  # _handle checked it
        flow, st = here
        text = clean(inbound.text or "")[:MAX_TEXT_CHARS]
        options = _options(st, b.state.answers, ctx)
        if options:
            picked = match_option(options, choice=inbound.choice, text=text)
            if picked is None and st.otherwise is not None and text and inbound.choice is None:
                result: object = st.otherwise(Answer(text=text), b.state.answers, ctx)
            elif picked is None:
                result = Retry(st.retry or "common.retry_choice")
            else:
                result = st.parse(Answer(text=text, choice=picked.payload), b.state.answers, ctx)
        else:
            result = st.parse(Answer(text=text, choice=inbound.choice), b.state.answers, ctx)
        if isinstance(result, Retry):
            self._miss(b, flow, st, result, ctx)
            return
        if st.emit is not None:
            b.effects.extend(st.emit(result, ctx))
        # A correction in progress returns to the summary; read the flag before this
        # step's own answer, because the "which field?" step is what sets it.
        editing = bool(b.state.answers.get("_editing"))
        answers = dict(b.state.answers)
        answers.update(st.store(result, b.state.answers))
        target = _resolve_next(st, result, answers)
        if editing and target in flow.editable and flow.summary is not None:
            target = flow.summary
        if target == flow.summary:
            answers.pop("_editing", None)
        history = b.state.history + (st.id,)
        b.state = replace(b.state, answers=MappingProxyType(answers), history=history)
        self.enter(b, flow, target, ctx)

    def _miss(self, b: Builder, flow: Flow, st: Step, retry: Retry, ctx: Context) -> None:
        misses = b.state.misses + 1
        if misses >= MAX_MISSES_PER_STEP:
            b.effects.append(HelpOffered(flow_id=flow.id, step_id=st.id, misses=misses))
            b.replies.append(Reply(Msg("common.help_offer", {"help": Msg(st.help)})))
            b.state = replace(b.state, misses=0)
            self.prompt_current(b, ctx)
            return
        b.state = replace(b.state, misses=misses)
        b.replies.append(_prompt(st, b.state.answers, ctx, lead=Msg(retry.msgid, retry.params)))

    # --- commands used by the flows module -------------------------------

    def go_back(self, b: Builder, ctx: Context) -> None:
        here = self.current(b)
        if here is None:
            self.prompt_current(b, ctx)
            return
        flow, _ = here
        if not b.state.history:
            self.prompt_current(b, ctx, lead=Msg("common.at_start"))
            return
        previous = b.state.history[-1]
        b.state = replace(b.state, history=b.state.history[:-1], step_id=previous, misses=0)
        b.replies.append(_prompt(flow.steps[previous], b.state.answers, ctx))

    def inform(self, b: Builder, ctx: Context, reply: Reply) -> None:
        """Answer a side question; a flow in progress asks its question again, the menu closes."""
        b.replies.append(reply)
        if b.state.is_active and b.state.flow_id != self.home:
            self.prompt_current(b, ctx)
        else:
            self.finish(b)

    def cancel(self, b: Builder, ctx: Context) -> None:
        s = b.state
        if s.is_active and s.flow_id != self.home:
            b.effects.append(ConversationCancelled(flow_id=s.flow_id or "", step_id=s.step_id or ""))
            b.replies.append(Reply(Msg("common.cancelled")))
        else:
            b.replies.append(Reply(Msg("common.nothing_to_cancel")))
        self.finish(b)

    def help(self, b: Builder, ctx: Context) -> None:
        here = self.current(b)
        if here is None:
            b.replies.append(Reply(Msg("common.help_general")))
            self.start(b, self.home, ctx)
            return
        _, st = here
        b.replies.append(Reply(Msg("common.help_step", {"help": Msg(st.help)})))
        self.prompt_current(b, ctx)


def command_name(text: str, *, with_arguments: bool = False) -> str | None:
    """The global command a message names, if it is one: "/annulla@AscoltoBot" -> "annulla".

    A plain word alone counts too ("Annulla", "indietro"), because WhatsApp has no
    slash commands and elderly users type words. With `with_arguments`, so does the
    first word of a longer plain message ("esporta 2026-11" -> "esporta"); whether it
    really is a command is `Engine.command_in`'s call.
    """
    raw = text.strip()
    is_slash = raw.startswith("/")
    words = (raw[1:] if is_slash else raw).split(maxsplit=1)
    if not words or len(words[0]) > MAX_COMMAND_CHARS:
        return None
    if not is_slash and len(words) > 1 and not with_arguments:
        return None
    head = words[0].split("@", 1)[0] if is_slash else words[0]
    return fold(head) or None


def is_explicit_command(inbound: Inbound) -> bool:
    """A button press or a message starting with "/": not a plain word that happens to be a command."""
    return inbound.choice is not None or (inbound.text or "").lstrip().startswith("/")


def match_option(options: tuple[Option, ...], *, choice: str | None, text: str) -> Option | None:
    """Pick the option meant by a button payload, a number, or words ("2", "sì", "Castro (LE)").

    Tries, in order: the exact word(s) of an option; an option's word inside a longer answer
    (the longest wins) among the options that are not a plain yes or no; for a yes/no question,
    what the answer means (`understanding.polarity`: "non va bene" is a no, "sì ma…sbagliato" is
    unclear); the same words-inside test among all options; the words' meaning (lemmas shared
    with an option's label and synonyms, `understanding.meaning`); then a typo-tolerant match. A word a
    negation governs never selects its option ("non è urgente" is not "urgente"), and an answer
    with a negation is never matched by typo tolerance. Anything ambiguous is no match, so the
    citizen is asked again rather than guessed at.
    """
    if choice is not None:
        return next((o for o in options if o.payload == choice), None)
    folded = fold(text)
    if not folded:
        return None
    if folded.isdigit():  # "2", and also "፩" or "᧚", which int() refuses: a number, never a word
        number = small_int(folded, len(options), minimum=1)
        return options[number - 1] if number is not None else None
    keyed = [(o, _keys(o)) for o in options]
    exact = [o for o, keys in keyed if folded in keys]
    if len(exact) == 1:
        return exact[0]
    tokens = tuple(folded.split())
    plain = [(o, keys) for o, keys in keyed if o.means is None]
    for decided in _stages(plain, keyed, options, tokens, text):
        if not isinstance(decided, _Nothing):
            return decided
    if any(t in NEGATORS for t in tokens):
        return None
    meant = by_meaning(options, text)  # the words' lemmas and the options' synonyms (issue 14, rule 4)
    if meant is not None:
        return meant
    scored = [(max(fuzz.ratio(folded, k) for k in keys), o) for o, keys in keyed if keys]
    scored = sorted((s for s in scored if s[0] >= FUZZY_CUTOFF), key=lambda s: -s[0])
    if len(scored) == 1 or (len(scored) > 1 and scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


def _stages(
    plain: list[tuple[Option, set[str]]], keyed: list[tuple[Option, set[str]]], options: tuple[Option, ...], tokens: tuple[str, ...], text: str
) -> Iterator[Option | None | _Nothing]:
    """The middle stages, lazily: the first that decides wins."""
    yield _inside(plain, tokens)
    yield _by_polarity(options, text)
    yield _inside(keyed, tokens)


class _Nothing:
    """No decision at this stage: try the next one (None means: decided, ask again)."""


_NOTHING: Final = _Nothing()


def _inside(keyed: list[tuple[Option, set[str]]], tokens: tuple[str, ...]) -> Option | None | _Nothing:
    """The option whose word stands, not negated, inside the answer; the longest word wins, a tie is no match."""
    best: dict[int, list[Option]] = {}
    for option, keys in keyed:
        inside = [len(k) for k in keys if len(k) > 1 and _stands_in(k.split(), tokens)]
        if inside:
            best.setdefault(max(inside), []).append(option)
    if not best:
        return _NOTHING
    longest = best[max(best)]
    return longest[0] if len(longest) == 1 else None


def _stands_in(key: list[str], tokens: tuple[str, ...]) -> bool:
    """`key` occurs in `tokens` at least once where no negator outside it governs its words."""
    size = len(key)
    for start in range(len(tokens) - size + 1):
        if list(tokens[start : start + size]) != key:
            continue
        outside = tuple("" if start <= i < start + size else t for i, t in enumerate(tokens))
        if not any(start <= i < start + size for i in negated_positions(outside)):
            return True
    return False


def _by_polarity(options: tuple[Option, ...], text: str) -> Option | None | _Nothing:
    yes = next((o for o in options if o.means == "yes"), None)
    no = next((o for o in options if o.means == "no"), None)
    if yes is None and no is None:
        return _NOTHING
    said = polarity(text)
    if said == Polarity.YES and yes is not None:
        return yes
    if said == Polarity.NO and no is not None:
        return no
    if said == Polarity.UNCLEAR:
        return None
    return _NOTHING


def _keys(option: Option) -> set[str]:
    names = (option.payload, *option.aliases, *((option.label,) if isinstance(option.label, str) else ()))
    return {k for k in (fold(n) for n in names) if k}


def _resolve_next(st: Step, value: object, answers: Answers) -> str:
    return st.next if isinstance(st.next, str) else st.next(value, answers)


def _options(st: Step, answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return st.options(answers, ctx) if callable(st.options) else st.options


def _prompt(st: Step, answers: Answers, ctx: Context, lead: Msg | None = None) -> Reply:
    text = st.prompt(answers, ctx) if callable(st.prompt) else st.prompt
    if lead is not None:
        text = Msg("common.lead", {"lead": lead, "text": text})
    return Reply(text=text, options=_options(st, answers, ctx))
