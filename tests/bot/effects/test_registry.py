"""The effect registry: every effect type has its one handler, unknown ones fail loudly, roles are checked once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.background import Background
from bot.core import Core
from bot.effects import Applying, Handler, Registry, UnhandledEffect, Wiring, build_registry, effect_types
from bot.notify import Notifier
from bot.roles import Roles
from conversations import InviteCreated, Translator
from storage import operators, staff
from storage.db import transaction
from storage.models import Citizen, Invite

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)


def test_every_effect_type_of_conversations_has_a_handler(translator: Translator) -> None:
    registry = build_registry(Wiring(notifier=Notifier(translator), roles=Roles(), background=Background()))
    assert registry.missing() == []
    assert set(registry.handlers) == set(effect_types())


def test_a_registry_without_a_handler_says_which_effect_is_missing() -> None:
    assert "InviteCreated" in Registry((), Roles()).missing()


def test_two_handlers_for_one_effect_are_refused() -> None:
    async def nothing(a: Applying, effect: object) -> None:
        return None

    with pytest.raises(ValueError, match="InviteCreated"):
        Registry((Handler(InviteCreated, nothing), Handler(InviteCreated, nothing)), Roles())


@dataclass(frozen=True)
class Unknown:
    at: datetime


async def test_an_effect_without_a_handler_raises_instead_of_being_dropped(core: Core) -> None:
    registry = core.pipeline.registry
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel="test", external_id="anna", language="it", created_at=NOW)
        session.add(citizen)
        await session.flush()
        with pytest.raises(UnhandledEffect, match="Unknown"):
            await registry.apply(Applying(session, citizen, NOW), Unknown(NOW))


async def test_a_handler_that_requires_an_admin_applies_nothing_for_a_citizen_and_audits_the_refusal(core: Core) -> None:
    registry = core.pipeline.registry
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel="test", external_id="anna", language="it", created_at=NOW)
        session.add(citizen)
        await session.flush()
        after: list[object] = []
        await registry.apply(Applying(session, citizen, NOW, after), InviteCreated(cooperative_id=1, code="K7MRAAAA", at=NOW))
        assert await operators.invite_with_cooperative(session, code="K7MRAAAA") is None
        tail = await staff.audit_tail(session, limit=1)
        assert [(a.action, a.detail) for a in tail] == [("command_refused", "InviteCreated")]
        assert after == []
    assert Invite  # the table the refused effect would have written
