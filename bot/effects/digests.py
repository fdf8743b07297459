"""`/digest_ora`: audited in the turn, sent after the commit (the digest opens its own transaction)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot.background import Background
from bot.effects.base import Applying, Handler, admin
from conversations import DigestRequested
from storage.audit import AuditAction
from storage import audit

DigestSender = Callable[[int, datetime], Awaitable[object]]
"""Sends the digest of a cooperative for the days up to a moment (`bot.jobs.digest.send_digest_now`)."""


class DigestEffects:
    def __init__(self, background: Background, send: DigestSender | None = None) -> None:
        self.background = background
        self.send = send

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (Handler(DigestRequested, self.requested, requires=admin),)

    async def requested(self, a: Applying, effect: DigestRequested) -> None:
        await audit.record(a.session, actor=a.actor, action=AuditAction.DIGEST_REQUESTED, cooperative_id=effect.cooperative_id, at=effect.at)
        if self.send is not None:
            send = self.send
            a.after_commit(self.background.later(lambda: send(effect.cooperative_id, effect.at)))
