"""Voice notes understood (issue 16): what the engine does when a transcript comes back.

A voice note is kept with the answers like any file, and, where the channel is listened to
(`Context.listens`), `VoiceNoteQueued` asks `bot/voice.py` to transcribe it after the commit.
Its words come back later as an `Inbound` carrying a `Transcript`:

- at a question with options they are read like typed words ("non è urgente" is not urgent);
- at a question that awaits the citizen's own words (the description) they are read back first,
  "Ho capito così: «…». Va bene?": yes keeps them as the answer, no lets the citizen try again
  or write; anything else typed is taken as their answer;
- silence, noise, a note too long, a failure: a kind word and the question again; the audio
  stays with the request either way, and operators see the words next to it.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Final

from conversations.effects import VoiceNoteQueued
from conversations.messages import HeardOutcome, Media, MediaKind, Msg, Option, Reply, Transcript
from conversations.types import Context, State

HEARD_KEY: Final = "_heard"
"""The answers' key of words read back and not yet confirmed."""
HEARD_OPTIONS: Final = (
    Option("si", Msg("common.yes"), ("si", "sì", "yes", "ok", "va bene", "giusto", "esatto", "certo"), means="yes"),
    Option("no", Msg("common.no"), ("no", "sbagliato", "riprova", "non va bene"), means="no"),
)
LEADS: Final = {
    HeardOutcome.EMPTY: Msg("voice.empty"),
    HeardOutcome.TOO_LONG: Msg("voice.too_long"),
    HeardOutcome.FAILED: Msg("voice.failed"),
}
"""What the citizen hears when a note gives no words; the audio stays with the request for an operator."""


def queued(state: State, kept: tuple[Media, ...], ctx: Context) -> tuple[VoiceNoteQueued, ...]:
    """The transcriptions to ask for the voice notes among `kept`; none where the channel is not listened to."""
    if not ctx.listens or not state.is_active:
        return ()
    return tuple(
        VoiceNoteQueued(ref=m.ref, content_type=m.content_type, step=state.step_id, at=ctx.now)
        for m in kept
        if m.kind == MediaKind.VOICE
    )


def read_back(state: State, text: str) -> tuple[State, Reply]:
    """"Ho capito così: «…». Va bene?", the words waiting for the citizen's yes."""
    answers = {**state.answers, HEARD_KEY: text}
    return replace(state, answers=MappingProxyType(answers)), Reply(Msg("voice.heard_confirm", {"text": text}), options=HEARD_OPTIONS)


def pending(state: State) -> tuple[State, str | None]:
    """The words read back and waiting for a yes (if any), and the state without them."""
    said = state.answers.get(HEARD_KEY)
    if not isinstance(said, str):
        return state, None
    answers = {k: v for k, v in state.answers.items() if k != HEARD_KEY}
    return replace(state, answers=MappingProxyType(answers)), said


def keep(state: State, transcript: Transcript) -> State:
    """The words next to their audio among the answers' media (they go with the need when it is sent)."""
    stored = state.answers.get("media")
    if not isinstance(stored, list) or transcript.outcome != HeardOutcome.HEARD:
        return state
    media = [dict(m, transcript=transcript.text) if m.get("ref") == transcript.ref else m for m in stored]
    return replace(state, answers=MappingProxyType({**state.answers, "media": media}))
