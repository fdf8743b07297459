"""The needs of a period as export lines: every need for admins, a cooperative's own for its operators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy import select as select_columns  # sqlmodel's select is typed for at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import AssignmentStatus
from storage.db import off_the_loop
from storage.models import Category, ComuneRow, Cooperative, Need, NeedAssignment, NeedMessage


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


async def rows(
    session: AsyncSession, *, since: datetime, until: datetime, include_personal: bool, cooperative_id: int | None
) -> list[list[object]]:
    await off_the_loop(session)  # a period's needs, with their names: long on a large table
    # How many messages the thread holds: a number, never the words (docs/privacy.md).
    messages = select(func.count()).where(col(NeedMessage.need_id) == col(Need.id)).correlate(Need).scalar_subquery()
    query = (
        select_columns(Need, col(Category.slug), col(ComuneRow.name), col(Cooperative.name), messages)
        .join(Category, col(Category.slug) == col(Need.category_slug))
        .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
        .outerjoin(Cooperative, col(Cooperative.id) == col(Need.claimed_by_cooperative_id))
        .where(col(Need.created_at) >= since, col(Need.created_at) < until)
        .order_by(col(Need.created_at), col(Need.id))
    )
    if cooperative_id is not None:
        routed = select(col(NeedAssignment.need_id)).where(
            col(NeedAssignment.cooperative_id) == cooperative_id,
            col(NeedAssignment.status) != AssignmentStatus.TRANSFERRED,  # passed on: no longer theirs to see
        )
        query = query.where(or_(col(Need.claimed_by_cooperative_id) == cooperative_id, col(Need.id).in_(routed)))
    out: list[list[object]] = []
    for need, category, comune, coop, thread in (await session.execute(query)).all():
        line: list[object] = [
            need.ticket,
            _iso(need.created_at),
            category,
            comune,
            need.comune_istat,
            need.urgency,
            need.status,
            coop or "",
            _iso(need.claimed_at),
            _iso(need.resolved_at),
            need.satisfaction if need.satisfaction is not None else "",
            int(thread or 0),
        ]
        if include_personal:
            line += [need.description, need.contact_method, need.contact_phone or "", need.latitude or "", need.longitude or ""]
        out.append(line)
    return out
