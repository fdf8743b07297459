"""A full dump of the database and of folders: every table, every column, every file, as one searchable text."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (every table in the metadata)


async def database(engine: AsyncEngine) -> dict[str, str]:
    """``table -> repr of all its rows``: text, JSON, numbers and dates alike (a new table is dumped without a change here)."""
    out: dict[str, str] = {}
    async with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = "\n".join(repr(tuple(row)) for row in rows)
    return out


def files(folders: Iterable[Path]) -> dict[str, str]:
    """``path -> content`` of every file under `folders` (bytes read as Latin-1, so nothing fails to decode)."""
    out: dict[str, str] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    out[str(path)] = path.read_bytes().decode("latin-1")
    return out


def holding(dumped: dict[str, str], needles: Iterable[str]) -> list[str]:
    """Which needle sits where: ``"zucchine in need"``; empty when none is anywhere."""
    return [f"{needle!r} in {where}" for needle in needles for where, text in dumped.items() if needle in text]
