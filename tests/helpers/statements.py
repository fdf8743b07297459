"""What a piece of code ran on the database: SQLAlchemy's statements and the plain lane's (`storage/plain.py`).

SQLAlchemy's `before_cursor_execute` event does not see the lane, which runs on SQLite's cursor
itself; the statement budgets and the "built once" checks must count both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import plain


@dataclass(frozen=True, slots=True)
class Executed:
    sql: str
    statement: Any
    """The statement object the caller executed (None for SQLAlchemy's own: a savepoint, an ORM flush's)."""
    params: Sequence[Mapping[str, Any]]
    """The values by name, one mapping a row of an executemany."""
    lane: bool


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[Executed]]:
    """Every statement meanwhile, in order, but BEGIN (not a cursor call through SQLAlchemy, nor on the lane)."""
    seen: list[Executed] = []

    def on_cursor(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        if not sql.startswith("BEGIN"):
            params = list(getattr(context, "compiled_parameters", None) or [])
            seen.append(Executed(sql, getattr(context, "invoked_statement", None), params, lane=False))

    def on_lane(sql: str, statement: Any, params: Sequence[Mapping[str, Any]]) -> None:
        seen.append(Executed(sql, statement, list(params), lane=True))

    event.listen(engine.sync_engine, "before_cursor_execute", on_cursor)
    plain.OBSERVERS.append(on_lane)
    try:
        yield seen
    finally:
        plain.OBSERVERS.remove(on_lane)
        event.remove(engine.sync_engine, "before_cursor_execute", on_cursor)
