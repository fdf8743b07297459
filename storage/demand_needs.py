"""A territory's demand counted on the needs themselves: exact, and slow on a big table.

`storage.demand.read` uses it only while the monthly summary (`storage.demand_summary`) cannot
answer: before its first fill, in another time zone, or for a period that ended after its last
refresh. The summary's refresh counts a month with the same expressions (`is_uncovered`), so both
paths count the same needs the same way; tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations.vocabulary import AssignmentStatus
from storage.digests import _median_hours, _seconds_between  # the same portable median as the digests
from storage.models import ComuneRow, Need, NeedAssignment


@dataclass(frozen=True, slots=True)
class Tallies:
    """What `conversations.demand.RawDemand` needs besides the labels: counts, two medians, a mean."""

    counts: dict[tuple[str, str, int], tuple[int, int]]
    """(category slug, ISTAT code, month index) → (needs, uncovered needs), in ISTAT code order (so by
    province): a page's comuni table follows it, the same from either path and backend (a GROUP BY's
    own order is the plan's). Digits only, so no collation can reorder them."""
    claim: tuple[float | None, int]
    resolve: tuple[float | None, int]
    satisfaction: tuple[float | None, int]


def is_uncovered() -> ColumnElement[int]:
    """1 for a need no cooperative claimed and none still holds (no assignment, or all declined), else 0."""
    taken = exists().where(
        col(NeedAssignment.need_id) == col(Need.id), col(NeedAssignment.status) != AssignmentStatus.DECLINED
    )
    return case((and_(col(Need.claimed_by_cooperative_id).is_(None), ~taken), 1), else_=0)


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def tally(session: AsyncSession, *, scope: ColumnElement[bool], bounds: list[datetime], months: int) -> Tallies:
    """Counts by category, comune and month (`bounds`: the months' first instants and the end), in one GROUP BY;
    the medians and the mean over the last `months` months."""
    since, until, period_start = bounds[0], bounds[-1], bounds[-1 - months]
    comuni = select(col(ComuneRow.istat_code)).where(scope)
    in_scope = and_(col(Need.comune_istat).in_(comuni), col(Need.created_at) >= since, col(Need.created_at) < until)
    month = case(*((col(Need.created_at) < bounds[i + 1], i) for i in range(len(bounds) - 1)), else_=len(bounds) - 2)
    # The month is computed in a subquery and grouped outside: PostgreSQL would not match two
    # renderings of the same CASE with its bound parameters.
    inner = (
        select(col(Need.category_slug).label("s"), col(Need.comune_istat).label("c"), month.label("m"), is_uncovered().label("u"))
        .where(in_scope)
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.s, inner.c.c, inner.c.m, func.count(), func.sum(inner.c.u))
        .group_by(inner.c.s, inner.c.c, inner.c.m)
        .order_by(inner.c.c)  # the order `Tallies.counts` promises
    )
    counts = {(str(s), str(c), int(m)): (int(n), int(u or 0)) for s, c, m, n, u in rows.all()}
    dialect = dialect_of(session)
    current = and_(col(Need.comune_istat).in_(comuni), col(Need.created_at) >= period_start, col(Need.created_at) < until)
    return Tallies(
        counts=counts,
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
