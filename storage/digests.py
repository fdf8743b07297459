"""Digest figures for one cooperative and period, as SQL aggregates (GROUP BY), never loops over rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations.digest import EMERGING_PERIODS, Count, DigestFigures, OpenNeed
from conversations.vocabulary import OPEN_STATUSES, AssignmentStatus, NeedStatus, Urgency
from storage.db import off_the_loop
from storage.models import Category, ComuneRow, Cooperative, DigestRun, Need, NeedAssignment

OLDEST_SHOWN = 5
URGENCY_ORDER = tuple(Urgency)


async def record_run(
    session: AsyncSession, *, cooperative_id: int, period_start: datetime, period_end: datetime, now: datetime
) -> DigestRun | None:
    """Insert the run row for this period; None when another run (or worker) already did.

    On PostgreSQL a second worker inserting the same period waits for the
    first one's transaction and then hits the unique constraint.
    """
    row = DigestRun(cooperative_id=cooperative_id, period_start=period_start, period_end=period_end, started_at=now)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """A portable duration in seconds: SQLite has no interval type, PostgreSQL has no julianday."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)  # type: ignore[return-value]  # Extract is a float column


async def _median_hours(session: AsyncSession, duration: ColumnElement[float], where: ColumnElement[bool]) -> float | None:
    """The median without percentile_cont (SQLite lacks it): count, then read the middle one or two rows in SQL order."""
    n = int(await session.scalar(select(func.count()).select_from(Need).where(where)) or 0)
    if n == 0:
        return None
    middle = (
        await session.execute(
            select(duration).select_from(Need).where(where).order_by(duration).offset((n - 1) // 2).limit(2 - n % 2)
        )
    ).scalars().all()
    return float(sum(middle)) / len(middle) / 3600


def _received(cooperative_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(
        col(NeedAssignment.cooperative_id) == cooperative_id,
        col(NeedAssignment.routed_at) >= start,
        col(NeedAssignment.routed_at) < end,
    )


async def _grouped(
    session: AsyncSession, key: Any, label: Any, cooperative_id: int, start: datetime, end: datetime, join: Any = None
) -> dict[str, tuple[str, int]]:
    query = (
        select(key, label, func.count())
        .select_from(NeedAssignment)
        .join(Need, col(Need.id) == col(NeedAssignment.need_id))
    )
    if join is not None:
        query = query.join(*join)
    query = query.where(_received(cooperative_id, start, end)).group_by(key, label)
    return {str(k): (str(lab), int(n)) for k, lab, n in (await session.execute(query)).all()}


async def figures(
    session: AsyncSession, *, cooperative: Cooperative, period_start: datetime, period_end: datetime, language: str = "it"
) -> DigestFigures:
    """The digest of one cooperative: needs routed to it in [start, end), compared with the period before.

    "Received" means routed to the cooperative (an assignment row, declined or
    not); its `routed_at` copies the need's creation time so the period filter
    runs on the `(cooperative_id, routed_at)` index.
    """
    assert cooperative.id is not None
    await off_the_loop(session)  # a cooperative's whole history: 1-2 s over a million needs (docs/performance.md)
    coop = cooperative.id
    length = period_end - period_start
    prev_start = period_start - length
    base_start = period_start - length * EMERGING_PERIODS
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    cat_label = Category.name_en if language == "en" else Category.name_it
    cat_join = (Category, col(Category.slug) == col(Need.category_slug))
    com_join = (ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))

    def counts(cur: dict[str, tuple[str, int]], prev: dict[str, tuple[str, int]], base: dict[str, tuple[str, int]]) -> tuple[Count, ...]:
        rows = [
            Count(k, lab, n, previous=prev.get(k, ("", 0))[1], baseline=base.get(k, ("", 0))[1]) for k, (lab, n) in cur.items()
        ]
        return tuple(sorted(rows, key=lambda c: (-c.count, c.label)))

    cat_key, com_key = col(Need.category_slug), col(Need.comune_istat)
    by_category = counts(
        await _grouped(session, cat_key, cat_label, coop, period_start, period_end, cat_join),
        await _grouped(session, cat_key, cat_label, coop, prev_start, period_start, cat_join),
        await _grouped(session, cat_key, cat_label, coop, base_start, period_start, cat_join),
    )
    by_comune = counts(
        await _grouped(session, com_key, ComuneRow.name, coop, period_start, period_end, com_join),
        await _grouped(session, com_key, ComuneRow.name, coop, prev_start, period_start, com_join),
        await _grouped(session, com_key, ComuneRow.name, coop, base_start, period_start, com_join),
    )
    urg = await _grouped(session, col(Need.urgency), col(Need.urgency), coop, period_start, period_end)
    by_urgency = tuple(Count(u, u, urg[u][1]) for u in URGENCY_ORDER if u in urg)
    total = sum(c.count for c in by_category)
    previous_total = int(
        await session.scalar(select(func.count()).select_from(NeedAssignment).where(_received(coop, prev_start, period_start)))
        or 0
    )
    offered = select(col(NeedAssignment.need_id)).where(
        col(NeedAssignment.cooperative_id) == coop, col(NeedAssignment.status) == AssignmentStatus.ROUTED
    )
    unclaimed = int(
        await session.scalar(
            select(func.count())
            .select_from(Need)
            .where(col(Need.status) == NeedStatus.NEW, col(Need.id).in_(offered), col(Need.created_at) < period_end)
        )
        or 0
    )
    scope = or_(and_(col(Need.status) == NeedStatus.NEW, col(Need.id).in_(offered)), col(Need.claimed_by_cooperative_id) == coop)
    oldest_rows = await session.execute(
        select(col(Need.ticket), col(cat_label), col(ComuneRow.name), col(Need.urgency), col(Need.created_at))
        .join(*cat_join)
        .join(*com_join)
        .where(scope, col(Need.status).in_(OPEN_STATUSES), col(Need.created_at) < period_end)
        .order_by(col(Need.created_at), col(Need.id))
        .limit(OLDEST_SHOWN)
    )
    oldest = tuple(OpenNeed(str(t), str(c), str(m), str(u), a) for t, c, m, u, a in oldest_rows.all())
    mine = col(Need.claimed_by_cooperative_id) == coop
    median_claim = await _median_hours(
        session,
        _seconds_between(col(Need.claimed_at), col(Need.created_at), dialect),
        and_(mine, col(Need.claimed_at) >= period_start, col(Need.claimed_at) < period_end),
    )
    median_resolve = await _median_hours(
        session,
        _seconds_between(col(Need.resolved_at), col(Need.created_at), dialect),
        and_(mine, col(Need.resolved_at) >= period_start, col(Need.resolved_at) < period_end),
    )
    return DigestFigures(
        cooperative=cooperative.name,
        period_start=period_start,
        period_end=period_end,
        total=total,
        previous_total=previous_total,
        by_category=by_category,
        by_urgency=by_urgency,
        by_comune=by_comune,
        unclaimed=unclaimed,
        oldest_open=oldest,
        median_claim_hours=median_claim,
        median_resolve_hours=median_resolve,
    )

