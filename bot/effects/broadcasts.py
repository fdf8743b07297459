"""A confirmed `/annuncio`: one outbox row per citizen who did not opt out, within the filters."""

from __future__ import annotations

import logging
from typing import Any, Final

from bot.effects.base import Applying, Handler, admin
from conversations import BroadcastRequested, Msg, Translator
from storage.audit import AuditAction
from storage import audit, staff

logger = logging.getLogger(__name__)

LANGUAGES: Final = ("it", "en")


class BroadcastEffects:
    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (Handler(BroadcastRequested, self.broadcast, requires=admin),)

    async def broadcast(self, a: Applying, effect: BroadcastRequested) -> None:
        texts = {lang: self.translator.format(Msg("admin.broadcast_header", {"text": effect.text}), lang) for lang in LANGUAGES}
        row = await staff.create_broadcast(
            a.session,
            texts=texts,
            comune_istat=effect.comune_istat,
            category=effect.category,
            requested_channel=a.citizen.channel,
            requested_by=a.citizen.external_id,
            now=effect.at,
        )
        await audit.record(a.session, actor=a.actor, action=AuditAction.BROADCAST, detail=f"#{row.id} {row.recipients} recipients", at=effect.at)
        logger.info("broadcast %s queued for %s citizen(s)", row.id, row.recipients)
