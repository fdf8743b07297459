"""The active categories, as a turn names them: cached between messages, since admins change them rarely."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from storage import reference

CATEGORY_CACHE_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class CategoryNames:
    """A category's names, cached between messages."""

    slug: str
    name_it: str
    name_en: str
    synonyms: tuple[str, ...] = ()
    """What admins wrote with `/sinonimi_categoria`: matched by lemma at the category question."""

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_it



class CategoryCache:
    """The active categories, re-read at most every CATEGORY_CACHE_SECONDS (they change rarely, by admins)."""

    def __init__(self) -> None:
        self._loaded: tuple[float, Sequence[CategoryNames] | None] = (0.0, None)

    async def active(self, session: AsyncSession) -> Sequence[CategoryNames]:
        loaded_at, rows = self._loaded
        if rows is None or time.monotonic() - loaded_at > CATEGORY_CACHE_SECONDS:
            # Plain values, not ORM rows: a rolled-back transaction expires its instances.
            rows = tuple(
                CategoryNames(c.slug, c.name_it, c.name_en, c.words()) for c in await reference.active_categories(session)
            )
            self._loaded = (time.monotonic(), rows)
        return rows

    @property
    def is_loaded(self) -> bool:
        return self._loaded[1] is not None

    def forget(self) -> None:
        """After an admin changes categories, so this process sees it at once."""
        self._loaded = (0.0, None)
