"""Categories changed by admins from the chat: add, rename, reorder, disable (needs keep theirs)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Category

STEP = 10
"""Positions are renumbered 10, 20, 30… so a hand-made insertion in SQL still fits between two."""


async def every(session: AsyncSession) -> Sequence[Category]:
    """Every category, active ones first, each group in display order."""
    result = await session.execute(
        select(Category).order_by(col(Category.is_active).desc(), col(Category.position), col(Category.slug))
    )
    return result.scalars().all()


async def add(session: AsyncSession, *, slug: str, name_it: str, name_en: str) -> bool:
    """False when the slug exists already (disabled or not): slugs are never reused for something else."""
    if await session.get(Category, slug) is not None:
        return False
    last = await session.scalar(select(func.max(Category.position)))
    session.add(Category(slug=slug, name_it=name_it, name_en=name_en, position=int(last or 0) + STEP))
    await session.flush()
    return True


async def rename(session: AsyncSession, *, slug: str, name_it: str, name_en: str) -> bool:
    result = await session.execute(
        update(Category).where(col(Category.slug) == slug).values(name_it=name_it, name_en=name_en)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def set_synonyms(session: AsyncSession, *, slug: str, synonyms: tuple[str, ...]) -> bool:
    """Replace the words people use for `slug` (matched by lemma at the intake's category question)."""
    result = await session.execute(
        update(Category).where(col(Category.slug) == slug).values(synonyms=", ".join(synonyms))
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def move(session: AsyncSession, *, slug: str, position: int) -> bool:
    """Show `slug` at `position` (1 = first) among the active categories; the others keep their order."""
    active = [c for c in await every(session) if c.is_active]
    moving = next((c for c in active if c.slug == slug), None)
    if moving is None:
        return False
    order = [c for c in active if c.slug != slug]
    order.insert(max(0, min(len(order), position - 1)), moving)
    for index, cat in enumerate(order, start=1):
        cat.position = index * STEP
    await session.flush()
    return True


async def disable(session: AsyncSession, *, slug: str) -> bool:
    """The intake stops offering it; needs, cooperatives and statistics keep the slug."""
    result = await session.execute(
        update(Category).where(col(Category.slug) == slug, col(Category.is_active).is_(True)).values(is_active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1
