"""Reference data kept in SQL: the comuni (from the ISTAT list) and the categories."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert
from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.comuni import Gazetteer
from storage.models import Category, ComuneRow

CHUNK = 500


async def sync_comuni(session: AsyncSession, *, gazetteer: Gazetteer) -> int:
    """Insert the comuni the table lacks; returns how many were added.

    Names of existing rows are refreshed only when the count differs, so a
    normal start costs one COUNT query.
    """
    count = (await session.execute(select(func.count()).select_from(ComuneRow))).scalar_one()
    if count == len(gazetteer):
        return 0
    existing = set((await session.execute(select(ComuneRow.istat_code))).scalars())
    rows = [
        {
            "istat_code": c.istat_code,
            "name": c.name,
            "province_code": c.province_code,
            "province_name": c.province_name,
            "region": c.region,
            "caps": " ".join(c.caps),
        }
        for c in gazetteer
        if c.istat_code not in existing
    ]
    table = ComuneRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(table), rows[start : start + CHUNK])
    return len(rows)


async def active_categories(session: AsyncSession) -> Sequence[Category]:
    result = await session.execute(
        select(Category).where(col(Category.is_active)).order_by(col(Category.position), col(Category.slug))
    )
    return result.scalars().all()


async def labels(session: AsyncSession, *, category_slug: str, comune_istat: str, language: str) -> tuple[str, str]:
    """A need's category (named in `language`) and comune as people read them; the codes if a row is missing."""
    category = await session.get(Category, category_slug)
    comune = await session.get(ComuneRow, comune_istat)
    return (category.name(language) if category else category_slug), (comune.name if comune else comune_istat)
