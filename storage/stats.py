"""Service-wide figures for admins (`/statistiche`, `/stato_sistema`): SQL aggregates, never loops over rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations import ChannelHealth, Stats, SystemStatus, Tally
from conversations.vocabulary import FollowUpKind
from storage import inbound
from storage.audit import AuditAction
from storage.db import off_the_loop
from storage.digests import _median_hours, _seconds_between  # the same portable median as the digests
from storage.models import (
    AuditLog,
    Category,
    ComuneRow,
    Cooperative,
    DigestRun,
    FollowUp,
    Need,
    OutboxMessage,
    OutboxStatus,
)

TOP: int = 10
"""Rows shown per breakdown; the rest is in `/esporta`."""


async def _tally(session: AsyncSession, label: Any, where: ColumnElement[bool], *joins: Any) -> tuple[Tally, ...]:
    query = select(label, func.count()).select_from(Need)
    for join in joins:
        query = query.join(*join)
    rows = await session.execute(query.where(where).group_by(label).order_by(func.count().desc(), label).limit(TOP))
    return tuple(Tally(str(k), int(n)) for k, n in rows.all())


async def figures(session: AsyncSession, *, since: datetime, until: datetime, language: str = "it") -> Stats:
    await off_the_loop(session)  # every need of the period, grouped several ways: seconds over a large table
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    created = and_(col(Need.created_at) >= since, col(Need.created_at) < until)
    total = int(await session.scalar(select(func.count()).select_from(Need).where(created)) or 0)
    cat_label = col(Category.name_en) if language == "en" else col(Category.name_it)
    by_status = await _tally(session, col(Need.status), created)
    by_category = await _tally(session, cat_label, created, (Category, col(Category.slug) == col(Need.category_slug)))
    by_comune = await _tally(session, col(ComuneRow.name), created, (ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat)))
    by_coop = await _tally(
        session, col(Cooperative.name), created, (Cooperative, col(Cooperative.id) == col(Need.claimed_by_cooperative_id))
    )
    median_claim = await _median_hours(
        session, _seconds_between(col(Need.claimed_at), col(Need.created_at), dialect), and_(created, col(Need.claimed_at).is_not(None))
    )
    median_resolve = await _median_hours(
        session, _seconds_between(col(Need.resolved_at), col(Need.created_at), dialect), and_(created, col(Need.resolved_at).is_not(None))
    )
    asked = and_(col(FollowUp.kind) == FollowUpKind.STILL_NEEDED, col(FollowUp.sent_at) >= since, col(FollowUp.sent_at) < until)
    sent, answered = (
        await session.execute(select(func.count(), func.count(col(FollowUp.answered_at))).select_from(FollowUp).where(asked))
    ).one()
    answers = await session.execute(
        select(col(FollowUp.answer), func.count()).where(asked, col(FollowUp.answer).is_not(None)).group_by(col(FollowUp.answer))
    )
    rated = and_(created, col(Need.satisfaction).is_not(None))
    count, mean = (await session.execute(select(func.count(), func.avg(col(Need.satisfaction))).where(rated))).one()
    return Stats(
        since=since,
        until=until,
        total=total,
        by_status=by_status,
        by_category=by_category,
        by_comune=by_comune,
        by_cooperative=by_coop,
        median_claim_hours=median_claim,
        median_resolve_hours=median_resolve,
        follow_ups_sent=int(sent),
        follow_ups_answered=int(answered),
        follow_up_answers=tuple(Tally(str(a), int(n)) for a, n in answers.all()),
        satisfaction_count=int(count),
        satisfaction_mean=float(mean) if mean is not None else None,
    )


async def system_status(session: AsyncSession, *, now: datetime) -> SystemStatus:
    await off_the_loop(session)  # the whole outbox, grouped
    by_status = await session.execute(
        select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status)).order_by(col(OutboxMessage.status))
    )
    oldest = await session.scalar(
        select(func.min(col(OutboxMessage.created_at))).where(col(OutboxMessage.status) == OutboxStatus.PENDING)
    )
    day_ago = now - timedelta(hours=24)
    is_pending = (col(OutboxMessage.status) == OutboxStatus.PENDING).cast(Integer)
    is_held = (col(OutboxMessage.status) == OutboxStatus.HELD).cast(Integer)
    failed_recent = and_(col(OutboxMessage.status) == OutboxStatus.FAILED, col(OutboxMessage.created_at) >= day_ago).cast(Integer)
    channels = await session.execute(
        select(
            col(OutboxMessage.channel),
            func.coalesce(func.sum(is_pending), 0),
            func.coalesce(func.sum(failed_recent), 0),
            func.coalesce(func.sum(is_held), 0),
            func.max(col(OutboxMessage.sent_at)),
        )
        .group_by(col(OutboxMessage.channel))
        .order_by(col(OutboxMessage.channel))
    )
    follow_ups = await session.execute(select(col(FollowUp.kind), func.max(col(FollowUp.sent_at))).group_by(col(FollowUp.kind)))
    last_follow = {str(k): _aware(at) for k, at in follow_ups.all()}
    digest = _aware(await session.scalar(select(func.max(col(DigestRun.started_at)))))
    retention = _aware(await session.scalar(select(func.max(col(AuditLog.at))).where(col(AuditLog.action) == AuditAction.NEEDS_ANONYMISED)))
    jobs: tuple[tuple[str, datetime | None], ...] = (
        ("digest", digest),
        *((kind.value, last_follow.get(kind.value)) for kind in FollowUpKind),
        ("retention", retention),
    )
    return SystemStatus(
        failed_inbound_24h=await inbound.failures_since(session, since=day_ago),
        outbox=tuple(Tally(str(s), int(n)) for s, n in by_status.all()),
        oldest_pending_at=_aware(oldest),
        jobs=jobs,
        channels=tuple(
            ChannelHealth(str(ch), int(p), int(f), int(h), _aware(last)) for ch, p, f, h, last in channels.all()
        ),
    )


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type, so SQLite hands back naive UTC (see `UTCDateTime`)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
