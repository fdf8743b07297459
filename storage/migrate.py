"""Schema migrations (Alembic) and reference data, applied on start and by `ascolto db upgrade`."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.comuni import Gazetteer
from storage import reference
from storage.db import session_factory, transaction

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(engine: AsyncEngine, gazetteer: Gazetteer) -> None:
    """Bring the schema to head and load the comuni; safe to run on every start."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    async with transaction(session_factory(engine)) as session:
        added = await reference.sync_comuni(session, gazetteer=gazetteer)
    if added:
        logger.info("loaded %s comuni", added)
