"""The effect registry: one handler per effect type, the role it requires, its after-commit work.

Like nyaruka/mailroom's event handlers: the engine emits plain effect values; each type is
applied by exactly one handler in the turn's transaction. A handler that must wait for the
commit (wake a worker, forget a cache, start a digest) pushes that work onto
`Applying.after_commit`; the pipeline runs it only if the transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from bot.roles import Roles, Sender
from conversations import Effect, Role
from storage.audit import AuditAction
from storage import audit
from storage.models import Citizen

logger = logging.getLogger(__name__)

E = TypeVar("E")


class Conflict(Exception):
    """Someone else changed the row between our read and our write: the pipeline replays the turn."""


class UnhandledEffect(LookupError):
    """An effect type without a handler: a programming error, caught by a test, never silently dropped."""


@dataclass(slots=True)
class Applying:
    """What a handler works with: the turn's transaction, the citizen who wrote, the time."""

    session: AsyncSession
    citizen: Citizen
    now: datetime
    after: list[Callable[[], None]] = field(default_factory=list)
    sender: Sender | None = None
    """The sender's role, read in this transaction, for handlers that require one."""

    @property
    def citizen_id(self) -> int:
        assert self.citizen.id is not None
        return self.citizen.id

    @property
    def actor(self) -> str:
        """Who to write in the audit log: ``"admin:12"``, ``"citizen:12"`` (the chat's row), ``"operator:3"``
        (the operator's number, as `/operatori` lists it and the desk's own rows write it); ids only."""
        role = self.sender.role if self.sender is not None else Role.CITIZEN
        if role == Role.OPERATOR and self.sender is not None and self.sender.operator is not None:
            return f"{role.value}:{self.sender.operator.id}"
        return f"{role.value}:{self.citizen_id}"

    def after_commit(self, work: Callable[[], None]) -> None:
        self.after.append(work)


Requirement = Callable[[Sender, Any], bool]
"""Whether this sender may cause this effect; checked again here, in the writing transaction
(the engine's guard read the role a moment ago, and a grant may have been revoked since)."""


def admin(sender: Sender, effect: object) -> bool:
    return sender.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class Handler(Generic[E]):
    """``Handler(NeedClaimed, self.claim)``; `requires` names who may cause it, when not anyone."""

    effect: type[E]
    apply: Callable[[Applying, E], Awaitable[None]]
    requires: Requirement | None = None


def effect_types() -> tuple[type, ...]:
    """Every effect type the engine can emit."""
    return tuple(get_args(Effect))


class Registry:
    """The single mapping effect type → handler, built once at start-up."""

    def __init__(self, handlers: Iterable[Handler[Any]], roles: Roles) -> None:
        self.roles = roles
        by_type: dict[type, Handler[Any]] = {}
        for handler in handlers:
            if handler.effect in by_type:
                raise ValueError(f"two handlers for {handler.effect.__name__}")
            by_type[handler.effect] = handler
        self.handlers: Mapping[type, Handler[Any]] = by_type

    def missing(self) -> list[str]:
        """Effect types nobody handles (a test keeps this empty)."""
        return [t.__name__ for t in effect_types() if t not in self.handlers]

    async def apply(self, applying: Applying, effect: object) -> None:
        handler = self.handlers.get(type(effect))
        if handler is None:
            raise UnhandledEffect(type(effect).__name__)
        if handler.requires is not None:
            citizen = applying.citizen
            sender = await self.roles.of(applying.session, channel=citizen.channel, external_id=citizen.external_id)
            applying = replace(applying, sender=sender)
            if not handler.requires(sender, effect):
                name = type(effect).__name__
                logger.warning("citizen %s: effect %s refused", applying.citizen_id, name)
                await audit.record(applying.session, actor=f"citizen:{applying.citizen_id}", action=AuditAction.COMMAND_REFUSED, detail=name, at=applying.now)
                return
        await handler.apply(applying, effect)
