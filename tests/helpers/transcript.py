"""Transcripts: drive the pure engine like a chat and assert what the bot says, by msgid."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from conversations import Context, Effect, Engine, HeardOutcome, Inbound, Location, Media, Msg, Reply, State, Transcript, Turn
from conversations import VoiceNoteQueued
from tests.helpers.clock import FakeClock


def texts(reply: Reply) -> list[Msg]:
    """The msgids a reply shows, looking inside the "lead + question" wrapper."""
    msg = reply.text
    if msg.id == "common.lead":
        lead, text = msg.params["lead"], msg.params["text"]
        assert isinstance(lead, Msg) and isinstance(text, Msg)
        return [lead, text]
    return [msg]


class Chat:
    """One citizen talking to the engine; every turn is kept for assertions."""

    def __init__(self, engine: Engine, ctx: Context, clock: FakeClock | None = None, *, channel: str = "test") -> None:
        self.engine = engine
        self.ctx = ctx
        self.channel = channel
        self.clock = clock or FakeClock(ctx.now)
        self.state = State()
        self.turns: list[Turn] = []
        self._ids = itertools.count(1)

    # --- the citizen ------------------------------------------------------

    def citizen(
        self,
        text: str | None = None,
        *,
        choice: str | None = None,
        version: int | None = None,
        location: Location | None = None,
        media: Iterable[Media] = (),
        unsupported: bool = False,
    ) -> Turn:
        inbound = Inbound(
            channel=self.channel,
            external_id=str(next(self._ids)),
            sender="citizen",
            received_at=self.clock.now,
            text=text,
            choice=choice,
            conversation_version=version if version is not None else (self.state.version if choice else None),
            location=location,
            media=tuple(media),
            is_unsupported=unsupported,
        )
        ctx = replace(self.ctx, now=self.clock.now)
        turn = self.engine.step(self.state, inbound, ctx)
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def heard(self, ref: str, text: str = "", *, outcome: HeardOutcome = HeardOutcome.HEARD) -> Turn:
        """The transcriber comes back with what voice note `ref` said, for the question it was sent at."""
        queued = [e for e in self.effects(VoiceNoteQueued) if isinstance(e, VoiceNoteQueued) and e.ref == ref]
        assert queued, f"no transcription of {ref!r} was asked for"
        inbound = Inbound(
            channel=self.channel,
            external_id=f"voice-{next(self._ids)}",
            sender="citizen",
            received_at=self.clock.now,
            transcript=Transcript(ref=ref, outcome=outcome, text=text, step=queued[-1].step),
        )
        turn = self.engine.step(self.state, inbound, replace(self.ctx, now=self.clock.now))
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def wait(self, **delta: float) -> None:
        self.clock.advance(**delta)

    def consent(self, given: bool = True) -> None:
        self.ctx = replace(self.ctx, has_consent=given)

    # --- what the bot said ------------------------------------------------

    @property
    def last(self) -> Turn:
        return self.turns[-1]

    def said(self) -> list[str]:
        return [m.id for r in self.last.replies for m in texts(r)]

    def bot_says(self, msgid: str, **params: object) -> Msg:
        for reply in self.last.replies:
            for msg in texts(reply):
                if msg.id == msgid:
                    for key, value in params.items():
                        assert msg.params.get(key) == value, (key, msg.params.get(key), value)
                    return msg
        raise AssertionError(f"bot did not say {msgid!r}; it said {self.said()}")

    def bot_asks(self, msgid: str, *, options: list[str] | None = None, step: str | None = None) -> Reply:
        """The last reply asks `msgid`; `options` are the payloads offered, in order."""
        question = self.last.replies[-1]
        ids = [m.id for m in texts(question)]
        assert msgid in ids, f"bot asked {ids}, not {msgid!r}; all replies: {self.said()}"
        if options is not None:
            assert [o.payload for o in question.options] == options
        if step is not None:
            assert self.state.step_id == step, (self.state.step_id, step)
        return question

    def effects(self, kind: type[Effect] | None = None) -> list[Effect]:
        found = [e for t in self.turns for e in t.effects]
        return [e for e in found if kind is None or isinstance(e, kind)]

    def is_idle(self) -> bool:
        return not self.state.is_active or self.state.flow_id == "menu"


IDLE_TIMEOUT = timedelta(hours=24)
