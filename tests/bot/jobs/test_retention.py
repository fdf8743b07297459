"""The retention job: closed needs anonymised after `privacy.retention_days`, the aggregates kept."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.jobs.retention import apply_retention
from storage.models import Need
from tests.helpers.clock import START
from tests.helpers.coops import RAVENNA, add_need


async def test_retention_anonymises_closed_needs_and_keeps_the_aggregates(core: Core) -> None:
    closed = await add_need(core, at=START, status="chiusa", resolved_after=timedelta(days=1))
    still_open = await add_need(core, at=START)
    done = START + timedelta(days=1)
    assert await apply_retention(core, done + timedelta(days=365) - timedelta(seconds=1)) == 0
    assert await apply_retention(core, done + timedelta(days=365)) == 1
    assert await apply_retention(core, done + timedelta(days=400)) == 0
    async with core.sessions() as session:
        a = await session.get(Need, closed.id)
        b = await session.get(Need, still_open.id)
    assert a is not None and (a.description, a.contact_phone, a.category_slug, a.comune_istat) == ("", None, "spesa", RAVENNA)
    assert a.anonymised_at is not None and a.created_at == START
    assert b is not None and b.description == "Mi serve aiuto"
