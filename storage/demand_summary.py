"""The monthly summary of the demand (`demand_month`, `demand_duration`): filled from the needs, read by the pages.

A public page reads a territory's 24 months. Counting them on the needs takes seconds at a
million needs; the summary keeps, per local month, comune and category, the needs, the uncovered
ones and the satisfaction answers, and per month and comune the claim and resolution times in
buckets (`conversations.durations`). Every territory (region, province, comune, a cooperative's
network) is a set of comuni, so one comune-keyed summary serves them all.

`refresh` recomputes whole months, each in one transaction (delete the month's rows, insert the
new ones), so a reader sees a month before or after, never half of one. Which months: every run,
the last `RECENT_MONTHS` and any month since the previous run; with `full`, every month since the
first need (the scheduler's nightly run, docs/architecture.md "The public pages").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlmodel import col

from conversations.demand import month_of, month_starts, next_month, start_of
from conversations.durations import BUCKETS, EDGES_HOURS, METHOD, median_hours
from storage.db import transaction
from storage.demand_needs import Tallies, dialect_of, is_uncovered
from storage.digests import _seconds_between
from storage.models import DEMAND_DURATION, ComuneRow, DemandMonth, DemandRefresh, Need
from storage.models.demand import MEASURES, bucket_column

_BUCKET_COLUMNS: Final = tuple(bucket_column(m, k) for m in MEASURES for k in range(BUCKETS))
RECENT_MONTHS: Final = 3
"""Months recomputed on every run: the running one and the two before, where claims, resolutions,
declines and satisfaction answers land. A change to an older need waits for the nightly full run."""
STATE_ID: Final = 1
LATER: Final = {"claim": "claimed_at", "resolve": "resolved_at"}
"""The need's column each measure runs to, from `created_at`."""
_MONTH: Any = DemandMonth.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
_DURATION: Final = DEMAND_DURATION
_COMUNE: Any = ComuneRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Refreshed:
    months: int
    """How many months were recomputed."""
    rows: int
    is_full: bool


async def state(session: AsyncSession) -> DemandRefresh | None:
    return await session.get(DemandRefresh, STATE_ID)


async def covers(session: AsyncSession, *, timezone: str, until: datetime) -> bool:
    """Whether the summary can answer for months ending at `until`: filled, in this zone and method, refreshed since."""
    found = await state(session)
    return found is not None and found.timezone == timezone and found.method == METHOD and found.covered_until >= until


def months_between(first: date, last: date) -> list[date]:
    out: list[date] = []
    while first <= last:
        out.append(first)
        first = next_month(first)
    return out


async def refresh(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, timezone: str, full: bool = False, recent: int = RECENT_MONTHS
) -> Refreshed:
    """Recompute the months that may have changed (all of them when `full`, or the summary is unusable), then mark
    the summary as covering up to `now`."""
    zone = ZoneInfo(timezone)
    current = month_of(now, zone)
    async with sessions() as session:
        found = await state(session)
        first_need: datetime | None = await session.scalar(select(func.min(col(Need.created_at))))
    is_full = full or found is None or found.timezone != timezone or found.method != METHOD
    if is_full:
        months = months_between(month_of(first_need, zone), current) if first_need is not None else []
    else:
        assert found is not None
        months = months_between(min(month_of(found.covered_until, zone), month_starts(current, recent)[0]), current)
    rows = 0
    for month in months:
        async with transaction(sessions) as session:
            rows += await _replace(session, month, zone)
    async with transaction(sessions) as session:
        if is_full:  # months no need falls in any more (the first need's month moved, the zone changed)
            outside = or_(col(DemandMonth.month) < months[0], col(DemandMonth.month) > months[-1]) if months else literal(True)
            await session.execute(delete(DemandMonth).where(outside))
            outside = or_(_DURATION.c.month < months[0], _DURATION.c.month > months[-1]) if months else literal(True)
            await session.execute(delete(_DURATION).where(outside))
        row = await state(session)
        if row is None:
            session.add(DemandRefresh(id=STATE_ID, timezone=timezone, method=METHOD, covered_until=now, full_at=now))
        else:
            row.timezone, row.method, row.covered_until = timezone, METHOD, now
            if is_full:
                row.full_at = now
    return Refreshed(len(months), rows, is_full)


async def _replace(session: AsyncSession, month: date, zone: ZoneInfo) -> int:
    """One month's rows, counted from its needs, in place of the old ones (the caller's transaction)."""
    in_month = and_(col(Need.created_at) >= start_of(month, zone), col(Need.created_at) < start_of(next_month(month), zone))
    inner = (
        select(col(Need.category_slug).label("s"), col(Need.comune_istat).label("c"), is_uncovered().label("u"), col(Need.satisfaction).label("r"))
        .where(in_month)
        .subquery()
    )
    cells = await session.execute(
        select(inner.c.s, inner.c.c, func.count(), func.sum(inner.c.u), func.count(inner.c.r), func.sum(inner.c.r)).group_by(inner.c.s, inner.c.c)
    )
    month_rows = [
        {"month": month, "comune_istat": c, "category_slug": s, "needs": n, "uncovered": int(u or 0), "rated": rated, "rating_sum": int(total or 0)}
        for s, c, n, u, rated, total in cells.all()
    ]
    per_comune: dict[str, dict[str, object]] = {}
    dialect = dialect_of(session)
    for measure in MEASURES:
        later = getattr(Need, LATER[measure])
        # Whole seconds: SQLite's julianday arithmetic gives 7199.9999… for two hours, an edge.
        seconds = func.round(_seconds_between(col(later), col(Need.created_at), dialect))
        bucket = _bucket(seconds, 0, len(EDGES_HOURS))
        sub = select(col(Need.comune_istat).label("c"), bucket.label("b")).where(in_month, col(later).is_not(None)).subquery()
        for c, b, n in (await session.execute(select(sub.c.c, sub.c.b, func.count()).group_by(sub.c.c, sub.c.b))).all():
            row = per_comune.setdefault(str(c), {"month": month, "comune_istat": str(c)} | dict.fromkeys(_BUCKET_COLUMNS, 0))
            row[bucket_column(measure, int(b))] = int(n)
    duration_rows = list(per_comune.values())
    await session.execute(delete(DemandMonth).where(col(DemandMonth.month) == month))
    await session.execute(delete(_DURATION).where(_DURATION.c.month == month))
    if month_rows:
        await session.execute(insert(_MONTH), month_rows)
    if duration_rows:
        await session.execute(insert(_DURATION), duration_rows)
    return len(month_rows) + len(duration_rows)


def _bucket(seconds: ColumnElement[float], low: int, high: int) -> ColumnElement[int]:
    """The `conversations.durations` bucket of a duration, as a binary search of nested CASEs: five comparisons a
    need instead of 31, and the same edges as `bucket_of` (SQLite may lack log())."""
    if low == high:
        return literal(low)
    mid = (low + high) // 2
    return case((seconds < EDGES_HOURS[mid] * 3600, _bucket(seconds, low, mid)), else_=_bucket(seconds, mid + 1, high))


async def tally(session: AsyncSession, *, scope: ColumnElement[bool], starts: Sequence[date], months: int) -> Tallies:
    """What `storage.demand_needs.tally` counts, read from the summary: the cells (by row on SQLite, months side by
    side on PostgreSQL: the same counts, whichever is cheaper there), a satisfaction sum, one sum per duration bucket."""
    comuni = select(_COMUNE.c.istat_code).where(scope).scalar_subquery()
    m, d = _MONTH.c, _DURATION.c
    in_scope = and_(m.month >= starts[0], m.month <= starts[-1], m.comune_istat.in_(comuni))
    connection = await session.connection()  # plain rows, not the ORM's: a region's two years are ~36,000 cells
    if dialect_of(session) == "postgresql":
        counts = await _counts_side_by_side(connection, in_scope, starts)
    else:
        counts = await _counts_by_row(connection, in_scope, starts)
    period = starts[-months]
    rated, total = (
        await session.execute(
            select(func.sum(m.rated), func.sum(m.rating_sum)).where(m.month >= period, m.month <= starts[-1], m.comune_istat.in_(comuni))
        )
    ).one()
    buckets = (
        await session.execute(
            select(*(func.sum(d[name]) for name in _BUCKET_COLUMNS)).where(d.month >= period, d.month <= starts[-1], d.comune_istat.in_(comuni))
        )
    ).one()
    histograms = {measure: {k: int(buckets[i * BUCKETS + k] or 0) for k in range(BUCKETS)} for i, measure in enumerate(MEASURES)}
    rated = int(rated or 0)
    return Tallies(
        counts=counts,
        claim=(median_hours(histograms["claim"]), sum(histograms["claim"].values())),
        resolve=(median_hours(histograms["resolve"]), sum(histograms["resolve"].values())),
        satisfaction=((int(total or 0) / rated) if rated else None, rated),
    )


async def _counts_by_row(connection: AsyncConnection, in_scope: ColumnElement[bool], starts: Sequence[date]) -> dict[tuple[str, str, int], tuple[int, int]]:
    """One row per comune, category and month (SQLite: rows are read in-process, cheaper than summing them apart)."""
    m = _MONTH.c
    found = await connection.execute(
        select(m.category_slug, m.comune_istat, m.month, m.needs, m.uncovered).where(in_scope).order_by(m.comune_istat)  # `Tallies.counts`' order
    )
    index = {month: i for i, month in enumerate(starts)}
    return {(s, c, index[month]): (n, u) for s, c, month, n, u in found}


async def _counts_side_by_side(
    connection: AsyncConnection, in_scope: ColumnElement[bool], starts: Sequence[date]
) -> dict[tuple[str, str, int], tuple[int, int]]:
    """One row per comune and category, its months side by side (PostgreSQL: every row crosses the socket and
    asyncpg, so ~1,500 rows of 48 sums beat ~36,000 rows; measured in docs/performance.md)."""
    m = _MONTH.c
    needs = [func.sum(case((m.month == month, m.needs), else_=0)) for month in starts]
    uncovered = [func.sum(case((m.month == month, m.uncovered), else_=0)) for month in starts]
    found = await connection.execute(
        select(m.comune_istat, m.category_slug, *needs, *uncovered)
        .where(in_scope)
        .group_by(m.comune_istat, m.category_slug)
        .order_by(m.comune_istat)  # `Tallies.counts`' order
    )
    span = len(starts)
    counts: dict[tuple[str, str, int], tuple[int, int]] = {}
    for c, s, *by_month in found:
        for i in range(span):
            if by_month[i]:
                counts[(s, c, i)] = (int(by_month[i]), int(by_month[span + i]))
    return counts
