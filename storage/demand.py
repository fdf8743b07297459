"""A territory's demand as SQL aggregates (GROUP BY over the needs of its comuni), never loops over rows.

`read` returns the raw counts (`conversations.demand.RawDemand`); only `conversations.demand.publish`
turns them into figures anyone may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations.demand import Level, RawDemand, Territory
from conversations.vocabulary import AssignmentStatus, TerritoryKind
from storage.digests import _median_hours, _seconds_between  # the same portable median as the digests
from storage.models import Category, ComuneRow, Cooperative, CooperativeTerritory, Need, NeedAssignment


def month_starts(end_month: date, count: int) -> tuple[date, ...]:
    """The first days of `count` months ending with `end_month`'s, oldest first."""
    y, m = end_month.year, end_month.month
    out: list[date] = []
    for _ in range(count):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return tuple(reversed(out))


def _instant(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


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
    """The counts of `months` months up to `end_month` and as many before them (for the trend), in 3 statements."""
    zone = ZoneInfo(timezone)
    starts = month_starts(end_month, 2 * months)
    bounds = [_instant(d, zone) for d in (*starts, _next_month(starts[-1]))]
    since, until, period_start = bounds[0], bounds[-1], bounds[months]
    comuni = select(col(ComuneRow.istat_code)).where(scope)
    in_scope = and_(col(Need.comune_istat).in_(comuni), col(Need.created_at) >= since, col(Need.created_at) < until)
    month = case(*((col(Need.created_at) < bounds[i + 1], i) for i in range(len(starts))), else_=len(starts) - 1)
    taken = exists().where(
        col(NeedAssignment.need_id) == col(Need.id), col(NeedAssignment.status) != AssignmentStatus.DECLINED
    )
    uncovered = case((and_(col(Need.claimed_by_cooperative_id).is_(None), ~taken), 1), else_=0)
    # The month is computed in a subquery and grouped outside: PostgreSQL would not match two
    # renderings of the same CASE with its bound parameters.
    inner = (
        select(col(Need.category_slug).label("s"), col(Need.comune_istat).label("c"), month.label("m"), uncovered.label("u"))
        .where(in_scope)
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.s, inner.c.c, inner.c.m, func.count(), func.sum(inner.c.u)).group_by(inner.c.s, inner.c.c, inner.c.m)
    )
    counts = {(str(s), str(c), int(m)): (int(n), int(u or 0)) for s, c, m, n, u in rows.all()}
    label = col(Category.name_en) if language == "en" else col(Category.name_it)
    categories = {
        str(s): str(n)
        for s, n in (await session.execute(select(col(Category.slug), label).order_by(col(Category.position), col(Category.slug)))).all()
    }
    codes = sorted({c for _, c, _ in counts})
    named = await session.execute(
        select(col(ComuneRow.istat_code), col(ComuneRow.name), col(ComuneRow.province_code)).where(col(ComuneRow.istat_code).in_(codes))
    )
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    current = and_(col(Need.comune_istat).in_(comuni), col(Need.created_at) >= period_start, col(Need.created_at) < until)
    return RawDemand(
        months=starts,
        counts=counts,
        categories=categories,
        comuni={str(c): (str(n), str(p)) for c, n, p in named.all()},
        claim=await _median_and_count(session, col(Need.claimed_at), and_(current, col(Need.claimed_at).is_not(None)), dialect),
        resolve=await _median_and_count(session, col(Need.resolved_at), and_(current, col(Need.resolved_at).is_not(None)), dialect),
        satisfaction=await _mean_satisfaction(session, and_(current, col(Need.satisfaction).is_not(None))),
    )


async def _median_and_count(session: AsyncSession, later: Any, where: ColumnElement[bool], dialect: str) -> tuple[float | None, int]:
    count = int(await session.scalar(select(func.count()).select_from(Need).where(where)) or 0)
    if count == 0:
        return None, 0
    return await _median_hours(session, _seconds_between(later, col(Need.created_at), dialect), where), count


async def _mean_satisfaction(session: AsyncSession, where: ColumnElement[bool]) -> tuple[float | None, int]:
    count, mean = (await session.execute(select(func.count(), func.avg(col(Need.satisfaction))).where(where))).one()
    return (float(mean) if mean is not None else None), int(count)


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
