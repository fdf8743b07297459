"""SQLAlchemy's aiosqlite adapter, with one worker-thread hand-off per statement instead of four.

aiosqlite runs every call on its connection's own thread; SQLAlchemy's adapter
makes four such calls for each statement (``cursor()``, ``execute``, ``fetchall``,
``close``), and each one waits for the event loop to pick up the result. Under
load that wait, not SQLite, was most of a pipeline turn (docs/performance.md).
This cursor does the four steps in one function on the worker thread: same
sqlite3 calls, same order, same connection, so transactions, errors and
results are unchanged; only the hand-offs go.

It uses ``Connection._execute`` and ``_conn`` of aiosqlite, as SQLAlchemy's own
adapter does (``_tx``, ``_conn``); aiosqlite is pinned in pyproject.toml and
tests/storage/test_sqlite_driver.py fails if they change.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_Outcome = tuple[Any, list[Any], int | None, int]
"""What a statement left on its cursor: description, rows, lastrowid, rowcount."""


def _execute(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    """On the worker thread: one statement from cursor to close."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _executemany(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement costs one hand-off to aiosqlite's thread."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            outcome: _Outcome = self.await_(self._connection._execute(_execute, self._connection, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._take(outcome)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            outcome: _Outcome = self.await_(
                self._connection._execute(_executemany, self._connection, operation, seq_of_parameters)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._take(outcome)

    def _take(self, outcome: _Outcome) -> None:
        description, rows, lastrowid, rowcount = outcome
        self.description = description
        self._rows.clear()
        self._rows.extend(rows)
        self.lastrowid = lastrowid  # type: ignore[assignment]  # None when the statement set none, as sqlite3's
        self.rowcount = rowcount


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Hands out OneHopCursor for ordinary (client-side) cursors."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else OneHopCursor(self)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as ``module=`` to ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is not AsyncAdapt_aiosqlite_connection:  # the sync "fallback" mode: keep it as it is
            return adapted
        return OneHopConnection(self, adapted._connection)
