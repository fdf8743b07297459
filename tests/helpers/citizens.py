"""A citizen row for tests that need one to hang rows on (needs, outbox rows), without a conversation."""

from __future__ import annotations

from datetime import datetime

from bot.core import Core
from storage.db import transaction
from storage.models import Citizen


async def add_citizen(core: Core, *, at: datetime, external_id: str = "42", channel: str = "telegram") -> int:
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel=channel, external_id=external_id, language="it", created_at=at)
        session.add(citizen)
        await session.flush()
        assert citizen.id is not None
        return citizen.id
