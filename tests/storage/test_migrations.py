"""Migrations: the models and the Alembic history agree, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.db import create_engine


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            categories = (await conn.execute(text("SELECT count(*) FROM category"))).scalar_one()
            comuni = (await conn.execute(text("SELECT count(*) FROM comune"))).scalar_one()
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert {"need", "outbox", "inbound_event", "citizen", "conversation", "alembic_version"} <= tables
    assert categories == 10
    assert comuni > 7800


async def test_sqlite_runs_in_wal_with_foreign_keys_and_full_sync(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            fk = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
    finally:
        await engine.dispose()
    assert (mode, fk, sync) == ("wal", 1, 2)
