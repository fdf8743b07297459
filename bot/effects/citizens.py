"""A citizen's own effects: consent, opting out and in, language, announcements, data rights, erasure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final

from bot.background import Background
from bot.effects.base import Applying, Handler
from conversations import (
    BroadcastsAccepted,
    BroadcastsRefused,
    ConsentGiven,
    ConsentRefused,
    ConversationCancelled,
    ConversationExpired,
    DataErasureRequested,
    HelpOffered,
    LanguageChanged,
    OptedIn,
    OptedOut,
    RightsExercised,
)
from storage.audit import AuditAction
from storage import audit, erasure

logger = logging.getLogger(__name__)

LANGUAGES: Final = ("it", "en")
"""The default: the composition root passes the translator's, one per catalog."""


class CitizenEffects:
    """`sweep` deletes the downloaded media an erasure left without a row, in the background after the commit."""

    def __init__(
        self,
        background: Background,
        sweep: Callable[[], Awaitable[object]] | None = None,
        languages: tuple[str, ...] = LANGUAGES,
        forget_exports: Callable[[Collection[str]], object] | None = None,
    ) -> None:
        self.background = background
        self.sweep = sweep
        self.languages = languages
        self.forget_exports = forget_exports
        """Deletes the export files that list an erased citizen's tickets (`bot.exports.forget`)."""

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(ConsentGiven, self.consent),
            Handler(ConsentRefused, self.consent_refused),
            Handler(OptedOut, self.opted_out),
            Handler(OptedIn, self.opted_in),
            Handler(LanguageChanged, self.language),
            Handler(BroadcastsRefused, self.broadcasts_refused),
            Handler(BroadcastsAccepted, self.broadcasts_accepted),
            Handler(RightsExercised, self.rights),
            Handler(DataErasureRequested, self.erase),
            # Facts about the conversation itself: logged with ids only, nothing to store.
            Handler(ConversationCancelled, noted),
            Handler(ConversationExpired, noted),
            Handler(HelpOffered, noted),
        )

    async def consent(self, a: Applying, effect: ConsentGiven) -> None:
        a.citizen.consent_version = effect.notice_version
        a.citizen.consent_at = effect.at

    async def consent_refused(self, a: Applying, effect: ConsentRefused) -> None:
        """A no at the consent question withdraws a yes given before (the citizen went back to it)."""
        if a.citizen.consent_version is None:
            return
        a.citizen.consent_version = None
        a.citizen.consent_at = None
        await audit.record(a.session, actor=f"citizen:{a.citizen_id}", action=AuditAction.CONSENT_WITHDRAWN, at=effect.at)

    async def opted_out(self, a: Applying, effect: OptedOut) -> None:
        a.citizen.opted_out_at = effect.at
        logger.info("citizen %s opted out", a.citizen_id)

    async def opted_in(self, a: Applying, effect: OptedIn) -> None:
        a.citizen.opted_out_at = None
        logger.info("citizen %s opted back in", a.citizen_id)

    async def language(self, a: Applying, effect: LanguageChanged) -> None:
        if effect.language in self.languages:
            a.citizen.language = effect.language

    async def broadcasts_refused(self, a: Applying, effect: BroadcastsRefused) -> None:
        a.citizen.broadcasts_refused_at = effect.at

    async def broadcasts_accepted(self, a: Applying, effect: BroadcastsAccepted) -> None:
        a.citizen.broadcasts_refused_at = None

    async def rights(self, a: Applying, effect: RightsExercised) -> None:
        await audit.record(a.session, actor=f"citizen:{a.citizen_id}", action=AuditAction.DATA_RIGHTS, detail=effect.right, at=effect.at)

    async def erase(self, a: Applying, effect: DataErasureRequested) -> None:
        tickets = await erasure.tickets_of(a.session, citizen_id=a.citizen_id)
        count = await erasure.erase_citizen(a.session, citizen=a.citizen, now=effect.at)
        forget = self.forget_exports
        if forget is not None and tickets:
            # An admin's export on the server lists their description and phone: it goes right after the commit.
            def forget_now() -> None:
                forget(tickets)

            a.after_commit(forget_now)
        await audit.record(a.session, actor=f"citizen:{a.citizen_id}", action=AuditAction.DATA_ERASED, detail=str(count), at=effect.at)
        logger.info("citizen %s erased their data (%s need(s))", a.citizen_id, count)
        if self.sweep is not None:
            # The rows naming the downloaded copies are gone with the commit: the files go after it.
            a.after_commit(self.background.later(self.sweep))


async def noted(a: Applying, effect: object) -> None:
    logger.info("effect %s for citizen %s", type(effect).__name__, a.citizen_id)
