"""The async engine and sessions, with SQLite set up to be safe as an embedded store."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.plain import RAW
from storage.sqlite_driver import BEGIN, BUSY_TIMEOUT_MS, ON_THE_LOOP, OneHopConnection, OneHopCursor, OneHopDBAPI
from storage.wal import WalSync

logger = logging.getLogger(__name__)

SQLITE_SYNCHRONOUS: Final = ("OFF", "NORMAL", "FULL", "EXTRA")
OUTAGE_SQLSTATE_CLASSES: Final = frozenset({"08", "40", "53", "57", "58"})
"""PostgreSQL error classes that say "not now" rather than "not this": connection exception,
transaction rollback (serialization failure, deadlock), insufficient resources (disk full, out of
memory, too many connections), operator intervention (shutdown, cancel), system error (I/O)."""


def is_outage(exc: BaseException) -> bool:
    """The database is unreachable, overloaded or asks us to try again: the same work may pass later.

    Only database errors count (issue 13). Anything else raised while applying a message (a bug,
    a value that does not fit its column, an unwritable export folder, a full disk elsewhere) is
    that message's own failure: retrying it would fail the same way, for ever. A socket error of
    the driver counts, because `create_engine` turns it into an `OperationalError` on its way up.
    """
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return exc.connection_invalidated or (isinstance(state, str) and state[:2] in OUTAGE_SQLSTATE_CLASSES)
    return False


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False, group_commit: bool = False) -> AsyncEngine:
    """Build the engine for `url` (``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``).

    On SQLite: WAL (readers never block the writer), foreign keys on,
    `synchronous=FULL` by default so an acknowledged need survives a power cut,
    and every transaction starts with ``BEGIN IMMEDIATE`` so two writers queue
    on the busy timeout instead of failing on a lock upgrade.

    `group_commit` (the application's engine, `bot.app.build_core`): FULL's sync of the WAL is
    done by `transaction` after the write lock is free, once for the commits that wait at the same
    moment (`storage/wal.py`); only for a database file with `synchronous=FULL`. Commits made
    outside `transaction` then wait for no sync until the next one that does.

    Statement parameters are never shown (`hide_parameters`): not in an error's text, which is
    logged, nor in `echo`'s output. They hold citizens' words and numbers. `echo` is off unless
    a caller asks; no setting turns it on.
    """
    if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {SQLITE_SYNCHRONOUS}")
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if not is_sqlite(url):
        kwargs |= {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}
    elif make_url(url).get_driver_name() == "aiosqlite":
        kwargs["module"] = OneHopDBAPI()  # one thread hand-off a statement, or none (storage/sqlite_driver.py)
        kwargs["connect_args"] = {"check_same_thread": False}  # statements of an `on_the_loop` transaction
    engine = create_async_engine(url, **kwargs)
    _driver_errors_are_database_errors(engine)
    if "module" in kwargs:

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _where(_conn: Any, cursor: Any, _sql: str, _params: Any, context: Any, _many: bool) -> None:
            if isinstance(cursor, OneHopCursor):
                cursor.on_the_loop = bool(context is not None and context.execution_options.get(ON_THE_LOOP))
    if is_sqlite(url):
        sync = sqlite_synchronous.upper()
        database = _database_file(url) if group_commit and sync == "FULL" and "module" in kwargs else None
        if database is not None:
            _GROUP_COMMIT[engine.sync_engine] = database
            sync = "NORMAL"  # and the sync FULL adds after each commit is `transaction`'s (storage/wal.py)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # Any: DB-API boundary
            # Take transaction control from the driver, as SQLAlchemy's aiosqlite docs advise.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={sync}")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if database is not None:
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # not inside a COMMIT on the loop: WalSync checkpoints
                if isinstance(dbapi_connection, OneHopConnection):
                    dbapi_connection.commit_on_the_loop = True  # without a sync, a COMMIT only writes the WAL's frames
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Only where the BEGIN may run: this transaction's option, which `do_begin` cannot see.
            driver = conn.connection.dbapi_connection
            if isinstance(driver, OneHopConnection):
                driver.begin_on_the_loop = bool(conn.get_execution_options().get(ON_THE_LOOP))

        # BEGIN IMMEDIATE as the dialect's own step, on the driver's cursor: SQLAlchemy wraps its
        # errors as for any statement (a lock timeout is an `OperationalError`, `is_outage`), and
        # skips the statement machinery an `exec_driver_sql` in the listener cost (~30 µs a transaction).
        engine.sync_engine.dialect.do_begin = _begin_immediate  # type: ignore[method-assign]

    return engine


def _database_file(url: str) -> Path | None:
    """The database's file, or None in memory (no WAL), for a URI filename (whose options SQLite reads)
    or off POSIX (where a folder cannot be opened to sync it)."""
    parsed = make_url(url)
    database = parsed.database
    if os.name != "posix" or not database or database == ":memory:" or database.startswith("file:") or parsed.query.get("uri"):
        return None
    return Path(database).resolve()


def _begin_immediate(dbapi_connection: Any) -> None:  # Any: DB-API boundary
    cursor = dbapi_connection.cursor()
    try:
        if isinstance(cursor, OneHopCursor):
            cursor.on_the_loop = dbapi_connection.dbapi_connection.begin_on_the_loop
        cursor.execute(BEGIN)
    finally:
        cursor.close()


def _driver_errors_are_database_errors(engine: AsyncEngine) -> None:
    """asyncpg lets a refused connection, a reset socket or a timeout through as a bare OSError:
    raise it as the `OperationalError` it is, so `is_outage` never needs to guess whether an
    OSError came from the database or from a file (issue 13)."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:  # Any: DB-API boundary
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:  # TimeoutError and ConnectionError included
            raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {type(exc).__name__}") from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        orig = context.original_exception
        if context.sqlalchemy_exception is not None or not isinstance(orig, OSError):
            return None
        context.is_disconnect = True  # the socket is gone: the pool must not hand this connection out again
        return OperationalError(context.statement, None, orig, connection_invalidated=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession], *, on_the_loop: bool = False) -> AsyncIterator[AsyncSession]:
    """One unit of work: committed when the block ends, rolled back on any error.

    On SQLite it waits its turn among this process's writers first (`Writers`).

    `on_the_loop` (the hot paths: a pipeline turn, the dispatcher's claims and marks, status
    callbacks): on SQLite, the statements run on the event loop's thread once BEGIN IMMEDIATE
    holds the write lock, with no hand-off to the driver's thread, and so does the BEGIN when
    the lock is free (`storage/sqlite_driver.py`).
    Only for transactions of short statements: a long read in one (a digest, an export) calls
    `off_the_loop` first. The plain lane (`storage/plain.py`) runs its statements on the sqlite3
    connection kept in `session.info` here. No effect on PostgreSQL.
    """
    # Not `async with factory() as session, session.begin()`: that spends a task (the shielded
    # close) and a greenlet more a transaction, 9-10 % of a one-statement transaction's CPU
    # (docs/performance.md, issue 18 seventh pass). The same steps, in the same order, by hand.
    session = factory()
    writers = _writers_of(session)
    wal = _wal_of(session)
    in_turn = committed = False
    try:
        if writers is not None:
            in_turn = await writers.wait_turn()
            if on_the_loop:
                connection = await session.connection(execution_options=_HOT)  # begins, as the first statement would
                session.info[RAW] = _sqlite3_of(connection)  # the plain lane's cursor (storage/plain.py)
        try:
            yield session
            await session.commit()
            committed = True
        except BaseException:  # the block's error, or the COMMIT's (SQLite keeps a transaction whose COMMIT failed open)
            await session.rollback()
            raise
    finally:
        try:
            if session.in_transaction():  # the commit or the rollback did not finish: let closing finish, even if cancelled
                await asyncio.shield(session.close())
            else:  # committed or rolled back: the connection is back in the pool, closing does no I/O
                await session.close()
        finally:
            if in_turn and writers is not None:
                writers.end_turn()
    if committed and wal is not None:  # the write lock is free: the next writers commit while this syncs
        await wal.synced()


class Writers:
    """This process's writers of one SQLite database, queued for its one write lock, first come first served.

    Every transaction on SQLite takes that lock at its BEGIN IMMEDIATE. Waiting for it on SQLite's busy
    timeout is polling: the driver's thread sleeps 1, 2, 5 ... up to 100 ms between tries, so under
    load a writer slept on after the lock was free, held a pooled connection while it waited, and
    each miss cost a failed BEGIN and a hand-off (docs/performance.md, issue 18 eleventh pass).
    Queued here, the next writer begins the moment the one before has ended. Other processes
    (`--workers`, the command line) still meet the lock and wait on the busy timeout, as before.
    """

    __slots__ = ("_lock", "_writer", "loop")

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[Any] | None = None
        self.loop = asyncio.get_running_loop()
        """The event loop whose writers this queue orders (an asyncio lock serves one loop)."""

    async def wait_turn(self) -> bool:
        """Wait, at most the busy timeout, until no other transaction of this process writes.

        False, without waiting, in a transaction opened inside the same task's own: SQLite's lock
        decides then, as it did before this queue (it fails on the busy timeout). Past the timeout,
        the error SQLite gives (`is_outage`: the work is tried again later).
        """
        task = asyncio.current_task()
        if task is not None and task is self._writer:
            return False
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
                await self._lock.acquire()
        except TimeoutError:
            raise OperationalError(BEGIN, None, sqlite3.OperationalError("database is locked")) from None
        self._writer = task
        return True

    def end_turn(self) -> None:
        self._writer = None
        self._lock.release()


class _OfOneLoop(Protocol):
    loop: asyncio.AbstractEventLoop


_Kept = TypeVar("_Kept", bound=_OfOneLoop)


def _of_this_loop(kept: weakref.WeakKeyDictionary[Engine, _Kept], engine: Engine, make: Callable[[], _Kept]) -> _Kept:
    """`engine`'s object for the running event loop (an asyncio lock or future serves one loop): a new loop (tests), a new one."""
    found = kept.get(engine)
    if found is None or found.loop is not asyncio.get_running_loop():
        found = kept[engine] = make()
    return found


_WRITERS: weakref.WeakKeyDictionary[Engine, Writers] = weakref.WeakKeyDictionary()


def _writers_of(session: AsyncSession) -> Writers | None:
    """The queue of `session`'s database on this event loop; None on PostgreSQL, whose writers lock only the rows they write."""
    if not _is_sqlite_session(session):
        return None
    assert session.bind is not None
    return _of_this_loop(_WRITERS, session.bind.sync_engine, Writers)


_GROUP_COMMIT: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()
"""Engines built with `group_commit`: their database file."""
_WAL: weakref.WeakKeyDictionary[Engine, WalSync] = weakref.WeakKeyDictionary()


def _wal_of(session: AsyncSession) -> WalSync | None:
    """The WAL sync of `session`'s database on this event loop, for an engine built with `group_commit`."""
    engine = session.bind.sync_engine if session.bind is not None else None
    database = _GROUP_COMMIT.get(engine) if engine is not None else None
    if engine is None or database is None:
        return None
    return _of_this_loop(_WAL, engine, lambda: WalSync(database))


async def off_the_loop(session: AsyncSession) -> None:
    """The rest of this transaction's statements run on the driver's thread: call before a long read
    (seconds over a large table) that may run inside an `on_the_loop` transaction, so the event loop
    keeps serving meanwhile."""
    if _is_sqlite_session(session):
        session.info.pop(RAW, None)
        connection: Any = await session.connection()  # Any: the option is ours, not one of SQLAlchemy's typed ones
        await connection.execution_options(**{ON_THE_LOOP: False})
        if (driver := _driver_of(connection)) is not None:
            driver.begin_on_the_loop = False  # its COMMIT too, under group commit (storage/wal.py)


def holds_the_write_lock(session: AsyncSession) -> bool:
    """A hot SQLite transaction (`transaction(..., on_the_loop=True)`): it holds the database's one write
    lock, so no other transaction waits on a row it writes, nor it on theirs."""
    return session.info.get(RAW) is not None


def _sqlite3_of(connection: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3 connection under SQLAlchemy's and aiosqlite's (None with another driver)."""
    driver = _driver_of(connection)
    return driver._connection._conn if driver is not None else None


def _driver_of(connection: AsyncConnection) -> OneHopConnection | None:
    """Our aiosqlite adapter under `connection` (None with another driver)."""
    driver = connection.sync_connection.connection.dbapi_connection if connection.sync_connection else None
    return driver if isinstance(driver, OneHopConnection) else None


_HOT: Any = {ON_THE_LOOP: True}  # Any: the option is ours, not one of SQLAlchemy's typed ones


def _is_sqlite_session(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "sqlite"


async def ping(session: AsyncSession) -> None:
    """One round trip to the database (the health check): raises when it cannot be reached."""
    await session.execute(text("SELECT 1"))
