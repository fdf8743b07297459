"""The public web side: pages of aggregated demand, open data and the co-programming dossier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.public.figures import Figures, Page, last_complete_month
from bot.public.site import Site
from conversations import Translator

__all__ = ["Figures", "Page", "Site", "build_site", "last_complete_month"]


def build_site(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], translator: Translator, clock: Callable[[], datetime]
) -> Site:
    """The site from the settings: the figures' cache, the translator and the public settings."""
    p = settings.public
    figures = Figures(
        sessions,
        clock=clock,
        timezone=settings.app.timezone,
        threshold=p.threshold,
        months=p.months,
        ttl=p.cache_seconds,
        # "Altri comuni ({province})": the placeholder is filled per province by `conversations.demand.publish`.
        other_label=lambda lang: translator.gettext("public.other_comuni", lang),
    )
    return Site(figures, translator, p, language=settings.app.language)
