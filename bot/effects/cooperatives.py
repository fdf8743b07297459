"""Cooperatives created, changed or deactivated from the chat, through `upsert` like an import; audited either way."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bot.effects.base import Applying, Handler, admin
from bot.effects.handover import offer_uncovered
from bot.notify import Notifier
from conversations import CooperativeDeactivated, CooperativeSaved, TerritoryKind
from conversations.coop_rules import DEFAULT_DIGEST, DEFAULT_TIMEZONE
from storage.audit import AuditAction
from storage import audit, cooperatives
from storage.cooperatives import CooperativeSpec

logger = logging.getLogger(__name__)

LANGUAGES = ("it", "en")


class CooperativeEffects:
    """`notifier`: a cooperative created or widened is told at once of the needs nobody covered there."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(CooperativeSaved, self.save, requires=admin),
            Handler(CooperativeDeactivated, self.deactivate, requires=admin),
        )

    async def save(self, a: Applying, effect: CooperativeSaved) -> None:
        if effect.is_new:
            await self._create(a, effect)
            return
        row = await cooperatives.by_slug(a.session, slug=effect.slug)
        if row is None:
            await audit.record(a.session, actor=a.actor, action=AuditAction.COOPERATIVE_NOT_FOUND, at=effect.at)
            return
        spec = await cooperatives.spec_of(a.session, row=row)
        if effect.territory is not None:
            spec = replace(spec, territory=tuple((TerritoryKind(k), c) for k, c in effect.territory))
        if effect.categories is not None:
            spec = replace(spec, categories=effect.categories)
        if effect.digest_cron is not None:
            spec = replace(spec, digest_cron=effect.digest_cron)
        if effect.timezone is not None:
            spec = replace(spec, timezone=effect.timezone)
        if effect.language in LANGUAGES:
            spec = replace(spec, language=effect.language)
        edited = (
            ("territory", effect.territory),
            ("categories", effect.categories),
            ("digest", effect.digest_cron),
            ("timezone", effect.timezone),
            ("language", effect.language),
        )
        fields = " ".join(name for name, value in edited if value is not None)
        _, changed = await cooperatives.upsert(a.session, spec=spec, now=effect.at)
        action = AuditAction.COOPERATIVE_EDITED if changed else AuditAction.COOPERATIVE_UNCHANGED
        await audit.record(a.session, actor=a.actor, action=action, cooperative_id=row.id, detail=fields or None, at=effect.at)
        if changed and row.id is not None:
            await offer_uncovered(a.session, self.notifier, cooperative_id=row.id, at=effect.at)

    async def deactivate(self, a: Applying, effect: CooperativeDeactivated) -> None:
        row = await cooperatives.by_slug(a.session, slug=effect.slug)
        if row is None:
            await audit.record(a.session, actor=a.actor, action=AuditAction.COOPERATIVE_NOT_FOUND, at=effect.at)
            return
        spec = replace(await cooperatives.spec_of(a.session, row=row), is_active=False)
        _, changed = await cooperatives.upsert(a.session, spec=spec, now=effect.at)
        action = AuditAction.COOPERATIVE_DEACTIVATED if changed else AuditAction.COOPERATIVE_UNCHANGED
        await audit.record(a.session, actor=a.actor, action=action, cooperative_id=row.id, at=effect.at)

    async def _create(self, a: Applying, effect: CooperativeSaved) -> None:
        taken = await cooperatives.by_slug(a.session, slug=effect.slug)
        if taken is not None:  # by someone else while this admin was answering
            await audit.record(a.session, actor=a.actor, action=AuditAction.COOPERATIVE_EXISTS, cooperative_id=taken.id, at=effect.at)
            return
        spec = CooperativeSpec(
            slug=effect.slug,
            name=effect.name or effect.slug,
            categories=effect.categories or (),
            territory=tuple((TerritoryKind(k), c) for k, c in effect.territory or ()),
            digest_cron=effect.digest_cron or DEFAULT_DIGEST,
            timezone=effect.timezone or DEFAULT_TIMEZONE,
            language=effect.language if effect.language in LANGUAGES else "it",
        )
        created, _ = await cooperatives.upsert(a.session, spec=spec, now=effect.at)
        await audit.record(a.session, actor=a.actor, action=AuditAction.COOPERATIVE_CREATED, cooperative_id=created.id, at=effect.at)
        logger.info("cooperative %s created by %s", created.id, a.actor)
        if created.id is not None:
            await offer_uncovered(a.session, self.notifier, cooperative_id=created.id, at=effect.at)
