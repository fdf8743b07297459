"""A territory's demand as SQL aggregates (the monthly summary, or GROUP BY over the needs of its comuni), never loops over rows.

`read` returns the raw counts (`conversations.demand.RawDemand`); only `conversations.demand.publish`
turns them into figures anyone may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations.demand import Level, RawDemand, Territory, month_starts, next_month, start_of
from conversations.vocabulary import TerritoryKind
from storage import demand_needs, demand_summary
from storage.models import Category, ComuneRow, Cooperative, CooperativeTerritory, Need


async def _network_scope(session: AsyncSession, slug: str) -> ColumnElement[bool] | None:
    coop = (await session.execute(select(Cooperative).where(col(Cooperative.slug) == slug))).scalar_one_or_none()
    if coop is None:
        return None
    items = (
        await session.execute(
            select(col(CooperativeTerritory.kind), col(CooperativeTerritory.code)).where(
                col(CooperativeTerritory.cooperative_id) == coop.id
            )
        )
    ).all()
    by_kind: dict[str, list[str]] = {}
    for kind, code in items:
        by_kind.setdefault(str(kind), []).append(str(code))
    return or_(
        col(ComuneRow.istat_code).in_(by_kind.get(TerritoryKind.COMUNE, [])),
        col(ComuneRow.province_code).in_(by_kind.get(TerritoryKind.PROVINCIA, [])),
        col(ComuneRow.region).in_(by_kind.get(TerritoryKind.REGIONE, [])),
    )


async def territory(session: AsyncSession, level: Level, code: str) -> tuple[Territory, ColumnElement[bool]] | None:
    """The territory named by a page's URL and the condition on `comune` rows that selects its comuni; None if unknown."""
    if level is Level.RETE:
        where = await _network_scope(session, code)
        name = await session.scalar(select(col(Cooperative.name)).where(col(Cooperative.slug) == code))
        return (Territory(level, code, str(name)), where) if where is not None and name is not None else None
    column: Any = {Level.REGIONE: ComuneRow.region, Level.PROVINCIA: ComuneRow.province_code, Level.COMUNE: ComuneRow.istat_code}[level]
    label: Any = {Level.REGIONE: ComuneRow.region, Level.PROVINCIA: ComuneRow.province_name, Level.COMUNE: ComuneRow.name}[level]
    parent: Any = {Level.REGIONE: ComuneRow.region, Level.PROVINCIA: ComuneRow.region, Level.COMUNE: ComuneRow.province_code}[level]
    found = (await session.execute(select(col(label), col(parent)).where(col(column) == code).limit(1))).first()
    if found is None:
        return None
    name, up = found
    return Territory(level, code, str(name), "" if level is Level.REGIONE else str(up)), col(column) == code


async def read(
    session: AsyncSession, *, scope: ColumnElement[bool], end_month: date, months: int, timezone: str, language: str = "it"
) -> RawDemand:
    """The counts of `months` months up to `end_month` and as many before them (for the trend).

    From the monthly summary when it covers the period (`demand_summary.covers`): a few thousand
    rows. Otherwise (never filled yet, another time zone, a month ended after its last refresh)
    from the needs themselves, exact and slower: the figures are right either way."""
    zone = ZoneInfo(timezone)
    starts = month_starts(end_month, 2 * months)
    bounds = [start_of(d, zone) for d in (*starts, next_month(starts[-1]))]
    if await demand_summary.covers(session, timezone=timezone, until=bounds[-1]):
        tallies = await demand_summary.tally(session, scope=scope, starts=starts, months=months)
    else:
        tallies = await demand_needs.tally(session, scope=scope, bounds=bounds, months=months)
    label = col(Category.name_en) if language == "en" else col(Category.name_it)
    categories = {
        str(s): str(n)
        for s, n in (await session.execute(select(col(Category.slug), label).order_by(col(Category.position), col(Category.slug)))).all()
    }
    codes = sorted({c for _, c, _ in tallies.counts})
    named = await session.execute(
        select(col(ComuneRow.istat_code), col(ComuneRow.name), col(ComuneRow.province_code)).where(col(ComuneRow.istat_code).in_(codes))
    )
    return RawDemand(
        months=starts,
        counts=tallies.counts,
        categories=categories,
        comuni={str(c): (str(n), str(p)) for c, n, p in named.all()},
        claim=tallies.claim,
        resolve=tallies.resolve,
        satisfaction=tallies.satisfaction,
    )


async def places(session: AsyncSession) -> dict[str, Sequence[tuple[str, str]]]:
    """The territories that have needs, for the index page: regions, provinces, comuni and networks (code, name)."""
    used = select(col(Need.comune_istat)).distinct()
    rows = (
        await session.execute(
            select(col(ComuneRow.istat_code), col(ComuneRow.name), col(ComuneRow.province_code), col(ComuneRow.province_name), col(ComuneRow.region))
            .where(col(ComuneRow.istat_code).in_(used))
            .order_by(col(ComuneRow.region), col(ComuneRow.province_name), col(ComuneRow.name))
        )
    ).all()
    nets = (await session.execute(select(col(Cooperative.slug), col(Cooperative.name)).where(col(Cooperative.is_active)).order_by(col(Cooperative.name)))).all()
    return {
        Level.REGIONE: sorted({(str(r), str(r)) for *_, r in rows}),
        Level.PROVINCIA: sorted({(str(p), str(pn)) for _, _, p, pn, _ in rows}, key=lambda x: x[1]),
        Level.COMUNE: [(str(c), str(n)) for c, n, *_ in rows],
        Level.RETE: [(str(s), str(n)) for s, n in nets],
    }
