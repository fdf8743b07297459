"""What a piece of code ran on the database: SQLAlchemy's statements and the plain lane's (`storage/plain.py`).

SQLAlchemy's `before_cursor_execute` event does not see the lane, which runs on SQLite's cursor
itself; the statement budgets and the "built once" checks must count both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage import plain


@dataclass(frozen=True, slots=True)
class Executed:
    sql: str
    statement: Any
    """The statement object the caller executed (None for SQLAlchemy's own: a savepoint, an ORM flush's)."""
    params: Sequence[Mapping[str, Any]]
    """The values by name, one mapping a row of an executemany."""
    many: bool
    lane: bool


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[Executed]]:
    """Every statement meanwhile, but BEGIN (not a cursor call through SQLAlchemy, nor on the lane)."""
    seen: list[Executed] = []

    def on_cursor(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, many: bool) -> None:
        if not sql.startswith("BEGIN"):
            params = list(getattr(context, "compiled_parameters", None) or [])
            seen.append(Executed(sql, getattr(context, "invoked_statement", None), params, many, lane=False))

    def observed(method: Any, many: bool) -> Any:
        async def run(self: plain.Plain, session: AsyncSession, params: Any) -> Any:
            result = await method(self, session, params)
            rows = list(params) if many else [params]
            form = self._forms.get(frozenset(rows[0])) if rows else None
            raw = session.info.get(plain.RAW)
            if raw is not None and raw.in_transaction and form is not None:  # it ran on the lane
                seen.append(Executed(form.sql, self.statement, rows, many, lane=True))
            return result

        return run

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plain.Plain, "rows", observed(plain.Plain.rows, many=False))
        patch.setattr(plain.Plain, "run_many", observed(plain.Plain.run_many, many=True))
        event.listen(engine.sync_engine, "before_cursor_execute", on_cursor)
        try:
            yield seen
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", on_cursor)
