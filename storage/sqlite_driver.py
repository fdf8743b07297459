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

On the loop thread (issue 18): a statement of a transaction opened with
``storage.db.transaction(..., on_the_loop=True)`` runs right here on the event
loop's thread, without any hand-off, once its ``BEGIN IMMEDIATE`` holds SQLite's
write lock: from then on no statement of that transaction can wait for a lock
(WAL readers never block), so it cannot stall the loop for longer than its own
work. Its ``BEGIN IMMEDIATE`` runs here too when the write lock is free: tried
with a busy timeout of zero, it either takes the lock at once or fails at once
with SQLITE_BUSY, and only then goes to the worker thread to wait its turn on
the busy timeout, so the loop never waits for a lock. ``ROLLBACK`` stays on the
worker thread, and so does a ``COMMIT`` that syncs the disk (``synchronous=FULL``
as SQLite does it). Under group commit (``storage/wal.py``) a COMMIT only writes
the WAL's frames, the sync comes after, off the loop: the hot transaction's
COMMIT then runs here too, and a turn of the pipeline costs no hand-off of its
own (a connection the pool takes back with no transaction open is not rolled
back through the thread either: sqlite3 would do nothing). The connection is opened with
``check_same_thread=False`` for this; SQLAlchemy still uses it from one task
at a time, and sqlite3 serialises calls on a connection anyway.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_Outcome = tuple[Any, list[Any], int | None, int]
"""What a statement left on its cursor: description, rows, lastrowid, rowcount."""

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for SQLite's write lock before failing (``PRAGMA busy_timeout``, set on connect)."""
BEGIN = "BEGIN IMMEDIATE"
"""Every transaction's first statement (`storage.db.create_engine`): it takes the write lock."""
_BEGAN: Final[_Outcome] = (None, [], None, -1)
"""What a BEGIN taken on the loop leaves on its cursor: no rows, no row id, no count."""


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


def _begin_at_once(connection: aiosqlite.Connection) -> bool:
    """On the loop thread: BEGIN IMMEDIATE if the write lock is free now, without waiting for it.

    False when another connection holds the lock (SQLITE_BUSY at once, with a busy timeout of
    zero): the caller then hands the BEGIN to the worker thread, which waits on the busy timeout.
    """
    raw = connection._conn
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute(BEGIN)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


def _executemany(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


ON_THE_LOOP = "ascolto_sqlite_on_the_loop"
"""The execution option that lets a transaction's statements run on the event loop's thread."""


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement costs one hand-off to aiosqlite's thread, or none (`on_the_loop`)."""

    __slots__ = ("on_the_loop",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        super().__init__(adapt_connection)
        self.on_the_loop = False
        """Set per statement from its execution options (`storage.db.create_engine`)."""

    def _here(self) -> bool:
        """On the loop thread: asked for, and inside a transaction (so its BEGIN IMMEDIATE holds the write lock)."""
        return self.on_the_loop and self._connection._conn.in_transaction

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            connection = cast(aiosqlite.Connection, self._connection)
            if self._here():
                outcome: _Outcome = _execute(connection, operation, parameters)
            elif self.on_the_loop and operation == BEGIN and _begin_at_once(connection):
                outcome = _BEGAN
            else:
                outcome = self.await_(self._connection._execute(_execute, self._connection, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._take(outcome)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            if self._here():
                outcome = _executemany(cast(aiosqlite.Connection, self._connection), operation, seq_of_parameters)
            else:
                outcome = self.await_(self._connection._execute(_executemany, self._connection, operation, seq_of_parameters))
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

    __slots__ = ("begin_on_the_loop", "commit_on_the_loop")

    def __init__(self, dbapi: Any, connection: Any) -> None:  # Any: SQLAlchemy types it as its own asyncio DB-API protocol
        super().__init__(dbapi, connection)
        self.begin_on_the_loop = False
        """Set at each BEGIN from its transaction's options (`storage.db.create_engine`), cleared by
        `storage.db.off_the_loop`: whether this transaction's BEGIN, and under group commit its COMMIT, run here."""
        self.commit_on_the_loop = False
        """Set on connect under group commit (`storage/wal.py`): a COMMIT that syncs nothing, so an
        `on_the_loop` transaction's runs here too, with no hand-off."""

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else OneHopCursor(self)

    def _idle(self) -> bool:
        """Open and outside any transaction: sqlite3's commit() and rollback() would do nothing."""
        raw = getattr(self._connection, "_connection", None)
        return raw is not None and not raw.in_transaction

    def commit(self) -> None:
        if self._idle():
            return
        if self.commit_on_the_loop and self.begin_on_the_loop:
            try:
                self._connection._conn.commit()
            except Exception as error:
                self._handle_exception(error)
            return
        super().commit()

    def rollback(self) -> None:
        # The pool rolls back every connection it gets back, committed or not: no hand-off for nothing.
        if not self._idle():
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as ``module=`` to ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is not AsyncAdapt_aiosqlite_connection:  # the sync "fallback" mode: keep it as it is
            return adapted
        return OneHopConnection(self, adapted._connection)
