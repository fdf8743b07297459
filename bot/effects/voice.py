"""Voice notes to transcribe (issue 16): queued in the turn's transaction, the transcriber woken after the commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.effects.base import Applying, Handler
from conversations import VoiceNoteQueued
from storage import voice


class VoiceEffects:
    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (Handler(VoiceNoteQueued, self.queued),)

    async def queued(self, a: Applying, effect: VoiceNoteQueued) -> None:
        await voice.queue(
            a.session, citizen_id=a.citizen_id, ref=effect.ref, content_type=effect.content_type, step=effect.step, now=a.now
        )
        a.after_commit(self.wake)
