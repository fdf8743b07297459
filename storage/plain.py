"""The hot statements on SQLite's own cursor: the same SQL, values and errors, without SQLAlchemy's execution.

A turn runs five or six small statements; through `AsyncSession.execute` each cost ~110 µs of
CPU on this kind of machine (a greenlet, an execution context, a result object) for ~10 µs of
SQLite work (docs/performance.md, issue 18 ninth pass). Inside a transaction that
`storage.db.transaction(..., on_the_loop=True)` opened on SQLite, the statement already runs on
the event loop's thread with the write lock held (`storage/sqlite_driver.py`), so `Plain` runs it
right there on the connection's sqlite3 cursor.

What SQLAlchemy would do is kept, from SQLAlchemy's own compiled form: the SQL its SQLite dialect
writes, the bind and result processors of the column types (a UTC datetime, JSON), the literal
values of the statement and the scalar defaults of an INSERT's missing columns, and its error
classes (`DBAPIError.instance`, so `storage.db.is_outage` reads them as before). Everywhere else
(PostgreSQL, a transaction not on the loop, one that called `off_the_loop`, an INSERT whose
missing column has a default computed in Python) the statement goes through the session as before.

SQLAlchemy's compiled form is read through three private attributes (`_bind_processors`,
`_result_columns`, `_cached_result_processor`); SQLAlchemy is pinned below 2.1, and
tests/storage/test_plain.py compares every lane statement's rows with the session's on both backends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import BindParameter, Column, Table, TextClause, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement, Executable

RAW: Final = "ascolto_sqlite_raw"
"""`AsyncSession.info` key: the sqlite3 connection of an on-the-loop transaction (set by `storage.db.transaction`)."""

Params = Mapping[str, Any]
_Processor = Callable[[Any], Any] | None
Observer = Callable[[str, Executable, Sequence[Params]], None]
OBSERVERS: Final[list[Observer]] = []
"""Told of each statement about to run on the lane (its SQL, the statement, one mapping of values a
row): SQLAlchemy's `before_cursor_execute` never sees these. For the statement budgets in the tests
and the counts of `bench telegram`; empty in production."""


def insert_text(table: Table, tail: str, *, columns: Sequence[Column[Any]] | None = None, extra: Sequence[BindParameter[Any]] = ()) -> TextClause:
    """``INSERT INTO <table> (<columns>) VALUES (:<columns>)<tail>`` as plain SQL, each value bound with its column's type.

    For the ``ON CONFLICT … RETURNING`` statements a turn runs: the same SQL on SQLite (≥ 3.35) and
    PostgreSQL, and SQLAlchemy does not cache the compiled form of its ``on_conflict_*`` constructs
    (compiling one again cost more than running it). `columns`: all of the table's by default;
    `extra`: binds the tail names.
    """
    chosen = list(table.c) if columns is None else list(columns)
    names = [c.name for c in chosen]
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}){tail}"
    return text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in chosen), *extra)


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement compiled for SQLite, for one set of parameter names."""

    sql: str
    names: tuple[str, ...]
    """The parameters in the order of the SQL's question marks."""
    fixed: Mapping[str, Any]
    """Values the caller does not give: the statement's literals, an INSERT's scalar column defaults."""
    binds: tuple[_Processor, ...]
    results: tuple[_Processor, ...]


class Plain:
    """One statement, run by `rows` or `run_many` on SQLite's cursor when the lane is open, else by the session."""

    __slots__ = ("statement", "_forms")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[frozenset[str], _Form | None] = {}

    async def rows(self, session: AsyncSession, params: Params) -> list[tuple[Any, ...]]:
        """Every row the statement returns (none for an UPDATE without RETURNING), as tuples."""
        raw, form = self._lane(session, params)
        if raw is None or form is None:
            result = await session.execute(self.statement, params)
            # An ORM-enabled select answers an ORM `Result`, which has rows and no `returns_rows`.
            return [tuple(row) for row in result.all()] if getattr(result, "returns_rows", True) else []
        if OBSERVERS:
            _observe(form, self.statement, [params])
        try:
            found = raw.execute(form.sql, _values(form, params)).fetchall()
        except sqlite3.Error as error:
            raise _wrapped(form, error) from error
        if not any(form.results):
            return found
        return [tuple(v if p is None else p(v) for p, v in zip(form.results, row, strict=True)) for row in found]

    async def run_many(self, session: AsyncSession, params: Sequence[Params]) -> int:
        """The statement once for each of `params` (all with the same names), as an executemany: the rows
        it changed, -1 when the driver does not say (asyncpg's executemany)."""
        if not params:
            return 0
        raw, form = self._lane(session, params[0])
        if raw is None or form is None:
            result = await session.execute(self.statement, list(params))
            count = getattr(result, "rowcount", -1)
            return -1 if count is None else int(count)
        if OBSERVERS:
            _observe(form, self.statement, params)
        try:
            return raw.executemany(form.sql, [_values(form, p) for p in params]).rowcount
        except sqlite3.Error as error:
            raise _wrapped(form, error) from error

    def _lane(self, session: AsyncSession, params: Params) -> tuple[sqlite3.Connection | None, _Form | None]:
        """The open lane's connection and this statement's form for `params`; a None: through the session."""
        raw: sqlite3.Connection | None = session.info.get(RAW)
        if raw is None or not raw.in_transaction:
            return None, None
        key = frozenset(params)
        try:
            return raw, self._forms[key]
        except KeyError:
            assert session.bind is not None
            form = self._forms[key] = _compile(self.statement, session.bind.dialect, key)
            return raw, form


def _compile(statement: Executable, dialect: Dialect, names: frozenset[str]) -> _Form | None:
    """SQLite's form of `statement` for parameters `names`; None when only SQLAlchemy's execution can run it."""
    compiled: Any = cast(ClauseElement, statement).compile(dialect=dialect, column_keys=sorted(names))
    fixed: dict[str, Any] = {}
    for column in compiled.insert_prefetch:  # a missing column's default: only a plain value can be taken over
        default = column.default
        if default is None or not default.is_scalar:
            return None
        fixed[column.key] = default.arg
    if compiled.update_prefetch:  # a column's `onupdate` computed in Python
        return None
    if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):  # SQL written at each execution
        return None
    order = tuple(compiled.positiontup or ())
    for name in order:
        if name not in names and name not in fixed:
            bind = compiled.binds[name]
            if bind.callable is not None or bind.required:
                return None
            fixed[name] = bind.value
    processors = compiled._bind_processors
    results = tuple(column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns)
    return _Form(compiled.string, order, fixed, tuple(processors.get(n) for n in order), results)


def _observe(form: _Form, statement: Executable, params: Sequence[Params]) -> None:
    for observer in OBSERVERS:
        observer(form.sql, statement, params)


def _values(form: _Form, params: Params) -> list[Any]:
    values = []
    for name, process in zip(form.names, form.binds, strict=True):
        value = params[name] if name in params else form.fixed[name]
        values.append(value if process is None else process(value))  # None too, as SQLAlchemy does (JSON writes it as null)
    return values


def _wrapped(form: _Form, error: sqlite3.Error) -> BaseException:
    """SQLAlchemy's exception for a driver error (IntegrityError, OperationalError, ...), parameters hidden."""
    return DBAPIError.instance(form.sql, None, error, sqlite3.Error, hide_parameters=True)
