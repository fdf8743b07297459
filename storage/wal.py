"""SQLite's `synchronous=FULL` with one fsync for all the commits that wait at the same moment (group commit).

SQLite's docs: in WAL mode, FULL is NORMAL plus one sync of the WAL file after each commit. With
FULL that sync ran inside every COMMIT, on aiosqlite's thread, with the write lock held: the
next writer waited for the disk, and every commit paid a hand-off to that thread and back.

`storage.db.create_engine(..., group_commit=True)` (`ascolto run`, every command) keeps FULL's
guarantee and moves the sync here. Connections run with `synchronous=NORMAL`: a COMMIT writes the
WAL's frames without syncing them, so a hot transaction commits on the event loop's thread. Then
`storage.db.transaction` releases the write lock and returns only once a sync of the WAL that
*began after its COMMIT* has landed (`WalSync.synced`). Nothing is acknowledged to Twilio or
Telegram, handed to the dispatcher or sent, before that: the work after a commit waits for
`transaction` to return. The commits that end while one sync runs share the next one.

Why it is FULL's guarantee:
- the WAL is only appended to (or restarted from its start after a checkpoint), and an fsync of
  a file writes every page of it written before the call, whichever descriptor wrote it; so a
  sync begun after a COMMIT covers that COMMIT, and every earlier one;
- a transaction that read rows committed but not yet synced commits after them: its own sync
  covers both, so nothing it does outside the database (a send, a 200) can outlive them;
- a new WAL file (the first, or one made again after the last connection closed) is synced with
  its directory, as SQLite syncs a new journal's directory; a WAL file that is gone was
  checkpointed into the database, and synced, by the connection that closed last.
What is lost in a power cut is then what FULL loses: commits whose `transaction` had not returned.
Read-only sessions (a page, a health check) may show, for that moment, rows not yet on disk.

Checkpoints: NORMAL connections would run SQLite's automatic checkpoint inside a COMMIT, now on the
event loop; they have it off (`wal_autocheckpoint=0`), and a passive checkpoint runs on the sync's
thread every `CHECKPOINT_EVERY` synced commits, on a connection of its own (SQLite's docs suggest
exactly this: checkpoints in a thread of their own). The WAL file itself holds no locks (those are
on the database and -shm files), so opening and closing it here cannot drop one of SQLite's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

from sqlalchemy.exc import OperationalError

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY: Final = 250
"""Synced commits between two passive checkpoints: a turn's commit writes a few pages, so about
SQLite's own default of 1,000 pages (`wal_autocheckpoint`)."""


class WalSync:
    """The WAL of one database file, synced for this event loop's commits, one sync at a time."""

    __slots__ = ("database", "wal", "loop", "_waiting", "_runner", "_commits", "_checkpointed", "_inode")

    def __init__(self, database: Path) -> None:
        self.database = database
        self.wal = database.with_name(database.name + "-wal")
        self.loop = asyncio.get_running_loop()
        """The event loop whose commits this serves (its futures belong to one loop)."""
        self._waiting: list[asyncio.Future[None]] = []
        """The commits ended since the running sync began: the next one is theirs."""
        self._runner: asyncio.Task[None] | None = None
        self._commits = 0
        self._checkpointed = 0
        self._inode: int | None = None
        """The WAL file synced last: another one is new, and its directory entry is synced too."""

    async def synced(self) -> None:
        """Return once a sync of the WAL that began after this call has landed; an `OperationalError` if it failed."""
        self._commits += 1
        waiter = self.loop.create_future()  # its own: a caller cancelled leaves the others' sync alone
        self._waiting.append(waiter)
        if self._runner is None:
            self._runner = self.loop.create_task(self._run(), name="wal-sync")
        await waiter

    async def _run(self) -> None:
        batch: list[asyncio.Future[None]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                checkpoint = self._commits - self._checkpointed >= CHECKPOINT_EVERY
                if checkpoint:
                    self._checkpointed = self._commits
                try:
                    await self.loop.run_in_executor(None, self._sync, checkpoint)
                except OSError as exc:  # the disk refused: whether these commits are on it is unknown
                    logger.error("the database's WAL could not be synced (%s)", type(exc).__name__)
                    _tell(batch, OperationalError("fsync", None, exc))
                else:
                    _tell(batch, None)
                batch = []
        finally:
            self._runner = None
            # Cancelled (the loop is closing): nobody is told "on disk".
            _tell(batch + self._waiting, OperationalError("fsync", None, ConnectionError("WAL sync stopped")))
            self._waiting = []

    def _sync(self, checkpoint: bool) -> None:
        """On a worker thread: fsync the WAL file (and its directory, if the file is new); then maybe checkpoint."""
        inode = _fsync(self.wal)
        if inode is not None and inode != self._inode:
            _fsync(self.wal.parent)
        self._inode = inode
        if checkpoint:
            _checkpoint(self.database)


def _tell(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if waiter.done():  # its caller was cancelled
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


def _fsync(path: Path) -> int | None:
    """fsync a file or a folder; its inode, or None if it is gone (a WAL checkpointed and removed by the last connection to close)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        os.fsync(fd)
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


def _checkpoint(database: Path) -> None:
    """A passive checkpoint: copies what it can to the database without waiting for any reader or writer."""
    try:
        connection = sqlite3.connect(database, isolation_level=None)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:  # another checkpoint running, say: the next one copies the rest
        logger.info("WAL checkpoint skipped (%s)", type(exc).__name__)
