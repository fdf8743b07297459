"""A territory's demand read by SQL aggregates: counts by category, comune and month; uncovered needs; medians."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col

from bot.core import Core
from conversations.demand import Level, publish
from conversations.vocabulary import AssignmentStatus
from storage import demand
from storage.db import transaction
from storage.models import NeedAssignment
from tests.helpers.coops import CERVIA, FORLI, RAVENNA, add_coop, add_need


async def test_counts_by_category_comune_and_month_with_uncovered_needs(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    # Local months: 31 October 23:30 UTC is 1 November in Rome.
    await add_need(core, at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC), cooperative_ids=(coop,))
    await add_need(core, at=datetime(2026, 11, 3, tzinfo=UTC), claimed_by=coop, claimed_after=timedelta(hours=2))
    await add_need(core, at=datetime(2026, 11, 4, tzinfo=UTC), category="solitudine")  # nobody covers it
    declined = await add_need(core, at=datetime(2026, 10, 4, tzinfo=UTC), comune=CERVIA, cooperative_ids=(coop,))
    await add_need(core, at=datetime(2026, 11, 5, tzinfo=UTC), comune=FORLI)  # another province
    await add_need(core, at=datetime(2025, 11, 5, tzinfo=UTC))  # a year before: the trend's month
    async with transaction(core.sessions) as session:
        await session.execute(
            update(NeedAssignment).where(col(NeedAssignment.need_id) == declined.id).values(status=AssignmentStatus.DECLINED)
        )
    async with core.sessions() as session:
        found = await demand.territory(session, Level.PROVINCIA, "RA")
        assert found is not None
        place, scope = found
        raw = await demand.read(session, scope=scope, end_month=date(2026, 11, 1), months=12, timezone="Europe/Rome")
    assert place.name == "Ravenna"
    assert raw.months[-1] == date(2026, 11, 1) and raw.months[0] == date(2024, 12, 1) and len(raw.months) == 24
    assert raw.counts == {
        ("spesa", RAVENNA, 23): (2, 0),
        ("solitudine", RAVENNA, 23): (1, 1),
        ("spesa", CERVIA, 22): (1, 1),
        ("spesa", RAVENNA, 11): (1, 1),
    }
    assert raw.claim[1] == 1 and raw.claim[0] is not None and abs(raw.claim[0] - 2.0) < 0.001
    figures = publish(raw)
    spesa = figures.slugs.index("spesa")
    assert figures.by_month.cells[spesa][-1].value is None  # 2 needs: "< 5"


async def test_a_network_is_the_territory_of_its_cooperative(core: Core) -> None:
    await add_coop(core, "cantiere", comuni=(CERVIA,), province=("FC",), name="Cantiere del Welfare")
    await add_need(core, at=datetime(2026, 11, 3, tzinfo=UTC), comune=CERVIA)
    await add_need(core, at=datetime(2026, 11, 3, tzinfo=UTC), comune=FORLI)
    await add_need(core, at=datetime(2026, 11, 3, tzinfo=UTC), comune=RAVENNA)
    async with core.sessions() as session:
        found = await demand.territory(session, Level.RETE, "cantiere")
        assert found is not None and found[0].name == "Cantiere del Welfare"
        raw = await demand.read(session, scope=found[1], end_month=date(2026, 11, 1), months=12, timezone="Europe/Rome")
        assert await demand.territory(session, Level.RETE, "nessuna") is None
    assert {c for _, c, _ in raw.counts} == {CERVIA, FORLI}
