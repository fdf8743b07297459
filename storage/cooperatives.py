"""Cooperatives: idempotent upsert from an import file, and look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from conversations.vocabulary import TerritoryKind
from storage.models import Cooperative, CooperativeCategory, CooperativeTerritory


@dataclass(frozen=True, slots=True)
class CooperativeSpec:
    """A cooperative as described in an import file, already validated."""

    slug: str
    name: str
    categories: tuple[str, ...]
    territory: tuple[tuple[TerritoryKind, str], ...]
    digest_cron: str = "0 8 * * mon"
    timezone: str = "Europe/Rome"
    language: str = "it"
    is_active: bool = True


async def upsert(session: AsyncSession, *, spec: CooperativeSpec, now: datetime) -> tuple[Cooperative, bool]:
    """Create or update by slug; territory and categories become exactly those of `spec`.

    Returns the row and whether anything changed, so a second import of the same file reports
    "unchanged" and writes nothing.
    """
    row = (await session.execute(select(Cooperative).where(Cooperative.slug == spec.slug))).scalar_one_or_none()
    changed = row is None
    if row is None:
        row = Cooperative(slug=spec.slug, name=spec.name, created_at=now, updated_at=now)
        session.add(row)
    fields = {
        "name": spec.name,
        "digest_cron": spec.digest_cron,
        "timezone": spec.timezone,
        "language": spec.language,
        "is_active": spec.is_active,
    }
    for key, value in fields.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    await session.flush()
    assert row.id is not None
    have_cats = set(
        (await session.execute(
            select(CooperativeCategory.category_slug).where(CooperativeCategory.cooperative_id == row.id)
        )).scalars()
    )
    want_cats = set(spec.categories)
    if have_cats != want_cats:
        changed = True
        await session.execute(
            delete(CooperativeCategory).where(
                col(CooperativeCategory.cooperative_id) == row.id,
                col(CooperativeCategory.category_slug).in_(have_cats - want_cats),
            )
        )
        session.add_all(CooperativeCategory(cooperative_id=row.id, category_slug=s) for s in sorted(want_cats - have_cats))
    have_terr = {
        (k, c)
        for k, c in (await session.execute(
            select(CooperativeTerritory.kind, CooperativeTerritory.code).where(
                CooperativeTerritory.cooperative_id == row.id
            )
        )).all()
    }
    want_terr = {(str(k), c) for k, c in spec.territory}
    if have_terr != want_terr:
        changed = True
        for kind, code in have_terr - want_terr:
            await session.execute(
                delete(CooperativeTerritory).where(
                    col(CooperativeTerritory.cooperative_id) == row.id,
                    col(CooperativeTerritory.kind) == kind,
                    col(CooperativeTerritory.code) == code,
                )
            )
        session.add_all(
            CooperativeTerritory(cooperative_id=row.id, kind=k, code=c) for k, c in sorted(want_terr - have_terr)
        )
    if changed:
        row.updated_at = now
    await session.flush()
    return row, changed


async def by_slug(session: AsyncSession, *, slug: str) -> Cooperative | None:
    result = await session.execute(select(Cooperative).where(Cooperative.slug == slug))
    return result.scalar_one_or_none()


async def active(session: AsyncSession) -> Sequence[Cooperative]:
    result = await session.execute(select(Cooperative).where(col(Cooperative.is_active)).order_by(col(Cooperative.id)))
    return result.scalars().all()


async def names(session: AsyncSession, *, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    result = await session.execute(select(Cooperative.id, Cooperative.name).where(col(Cooperative.id).in_(ids)))
    return {int(i): str(n) for i, n in result.all()}


async def spec_of(session: AsyncSession, *, row: Cooperative) -> CooperativeSpec:
    """A stored cooperative as a spec, so a change of one field goes through `upsert` like an import."""
    assert row.id is not None
    cats = (
        await session.execute(
            select(CooperativeCategory.category_slug)
            .where(CooperativeCategory.cooperative_id == row.id)
            .order_by(col(CooperativeCategory.category_slug))
        )
    ).scalars()
    terr = (
        await session.execute(
            select(CooperativeTerritory.kind, CooperativeTerritory.code)
            .where(CooperativeTerritory.cooperative_id == row.id)
            .order_by(col(CooperativeTerritory.id))
        )
    ).all()
    return CooperativeSpec(
        slug=row.slug,
        name=row.name,
        categories=tuple(cats),
        territory=tuple((TerritoryKind(k), str(c)) for k, c in terr),
        digest_cron=row.digest_cron,
        timezone=row.timezone,
        language=row.language,
        is_active=row.is_active,
    )


async def get(session: AsyncSession, *, cooperative_id: int) -> Cooperative | None:
    return await session.get(Cooperative, cooperative_id)
