"""What admins confirm from the chat: roles, operators, invites, categories; and what they read, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.effects.base import Applying, Handler, admin
from conversations import (
    CategoryAdded,
    CategoryDisabled,
    CategoryMoved,
    CategoryRenamed,
    CategorySynonymsSet,
    InviteCreated,
    OperatorRevoked,
    RoleGranted,
    RoleRevoked,
    StaffCommandUsed,
)
from storage.audit import AuditAction
from storage import audit, categories, operators, staff


class AdminEffects:
    """`categories_changed` runs after a commit that changed categories (the pipeline's cache forgets them)."""

    def __init__(self, *, invite_days: int = 7, categories_changed: Callable[[], None] = lambda: None) -> None:
        self.invite_days = invite_days
        self.categories_changed = categories_changed

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (
            Handler(StaffCommandUsed, self.used, requires=admin),
            Handler(RoleGranted, self.granted, requires=admin),
            Handler(RoleRevoked, self.revoked, requires=admin),
            Handler(OperatorRevoked, self.operator_revoked, requires=admin),
            Handler(InviteCreated, self.invite, requires=admin),
            Handler(CategoryAdded, self.category_added, requires=admin),
            Handler(CategoryRenamed, self.category_renamed, requires=admin),
            Handler(CategorySynonymsSet, self.category_synonyms, requires=admin),
            Handler(CategoryMoved, self.category_moved, requires=admin),
            Handler(CategoryDisabled, self.category_disabled, requires=admin),
        )

    async def used(self, a: Applying, effect: StaffCommandUsed) -> None:
        await audit.record(a.session, actor=a.actor, action=AuditAction.STAFF_READ, detail=effect.command, at=effect.at)

    async def granted(self, a: Applying, effect: RoleGranted) -> None:
        done = await staff.grant_admin(a.session, channel=effect.channel, external_id=effect.external_id, by=a.actor, now=effect.at)
        await audit.record(a.session, actor=a.actor, action=AuditAction.ADMIN_GRANTED if done else AuditAction.ADMIN_ALREADY, detail=effect.channel, at=effect.at)

    async def revoked(self, a: Applying, effect: RoleRevoked) -> None:
        n = await staff.revoke_admin(a.session, channel=effect.channel, external_id=effect.external_id, by=a.actor, now=effect.at)
        await audit.record(a.session, actor=a.actor, action=AuditAction.ADMIN_REVOKED if n else AuditAction.ADMIN_NOT_FOUND, detail=effect.channel, at=effect.at)

    async def operator_revoked(self, a: Applying, effect: OperatorRevoked) -> None:
        done = await staff.revoke_operator(a.session, operator_id=effect.operator_id)
        action = AuditAction.OPERATOR_REVOKED if done else AuditAction.OPERATOR_NOT_FOUND
        await audit.record(a.session, actor=a.actor, action=action, operator_id=effect.operator_id, at=effect.at)

    async def invite(self, a: Applying, effect: InviteCreated) -> None:
        expires = effect.at + timedelta(days=self.invite_days)
        await operators.create_invite(a.session, cooperative_id=effect.cooperative_id, code=effect.code, expires_at=expires, now=effect.at)
        await audit.record(a.session, actor=a.actor, action=AuditAction.INVITE_CREATED, cooperative_id=effect.cooperative_id, at=effect.at)

    async def category_added(self, a: Applying, effect: CategoryAdded) -> None:
        done = await categories.add(a.session, slug=effect.slug, name_it=effect.name_it, name_en=effect.name_en)
        await self._category_audit(a, AuditAction.CATEGORY_ADDED if done else AuditAction.CATEGORY_EXISTS, effect.slug, effect.at)

    async def category_renamed(self, a: Applying, effect: CategoryRenamed) -> None:
        done = await categories.rename(a.session, slug=effect.slug, name_it=effect.name_it, name_en=effect.name_en)
        await self._category_audit(a, AuditAction.CATEGORY_RENAMED if done else AuditAction.CATEGORY_NOT_FOUND, effect.slug, effect.at)

    async def category_synonyms(self, a: Applying, effect: CategorySynonymsSet) -> None:
        done = await categories.set_synonyms(a.session, slug=effect.slug, synonyms=effect.synonyms)
        await self._category_audit(a, AuditAction.CATEGORY_SYNONYMS if done else AuditAction.CATEGORY_NOT_FOUND, effect.slug, effect.at)

    async def category_moved(self, a: Applying, effect: CategoryMoved) -> None:
        done = await categories.move(a.session, slug=effect.slug, position=effect.position)
        await self._category_audit(a, AuditAction.CATEGORY_MOVED if done else AuditAction.CATEGORY_NOT_FOUND, f"{effect.slug} {effect.position}", effect.at)

    async def category_disabled(self, a: Applying, effect: CategoryDisabled) -> None:
        done = await categories.disable(a.session, slug=effect.slug)
        await self._category_audit(a, AuditAction.CATEGORY_DISABLED if done else AuditAction.CATEGORY_NOT_FOUND, effect.slug, effect.at)

    async def _category_audit(self, a: Applying, action: AuditAction, detail: str, at: datetime) -> None:
        await audit.record(a.session, actor=a.actor, action=action, detail=detail, at=at)
        a.after_commit(self.categories_changed)
