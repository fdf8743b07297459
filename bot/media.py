"""Local copies of inbound WhatsApp media (``[whatsapp] download_media``), fetched after the need is committed.

The webhook only stores Twilio's URL and content type and answers at once; the fetcher
claims the queued attachments afterwards (woken by the pipeline's after-commit hook, and
polling for retries), downloads each with the account's credentials and records the local
copy. A failure never touches the need: the URL stays, the try is logged without personal
data and repeated a bounded number of times when it may pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import mimetypes
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import wait_any
from bot.clock import DatabaseClock, now_in
from storage import media
from storage.db import transaction

logger = logging.getLogger(__name__)

PART_SUFFIX: Final = ".part"
"""A download in progress; renamed once its row records it, swept when older than `STALE_PART_SECONDS`."""
STALE_PART_SECONDS: Final = 3600.0
_EXTENSION: Final = re.compile(r"^\.[a-z0-9]{1,8}$")
_OURS: Final = re.compile(r"^[0-9a-f]{32}(\.[a-z0-9]{1,8})?$")
"""The names the fetcher generates: `sweep` never touches anything else, whatever `media_dir` points at."""
_TRANSIENT_STATUSES: Final = frozenset({408, 425, 429})


class FetchFailed(Exception):
    """One try failed; `reason` is safe to log and store (a status or a word, never the URL)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    """Where copies go and how hard we try; from ``[whatsapp]`` settings."""

    directory: Path
    api_base_url: str
    """Credentials go only to URLs on this origin (Twilio's API); other URLs are never fetched."""
    max_bytes: int = 16 * 1024 * 1024
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 10
    idle_poll: float = 30.0


class MediaFetcher:
    """Claims pending attachments and stores a local copy of each; one per process, safe side by side."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str,
        policy: MediaPolicy,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.auth = httpx.BasicAuth(account_sid, auth_token)
        self.policy = policy
        self.clock = clock or DatabaseClock()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that queued attachments, so they are fetched at once."""
        self._wake.set()

    async def run_once(self) -> int:
        """Try every due attachment of one batch; returns how many were tried."""
        async with transaction(self.sessions) as session:
            now = await now_in(session, self.clock)  # the database's time: leases agree across hosts
            claimed = await media.claim_due(
                session, now=now, lease_until=now + self.policy.lease, limit=self.policy.batch_size
            )
            # Plain values: the rows expire with the transaction.
            work = [(a.id, a.ref, a.content_type, a.fetch_attempts) for a in claimed if a.id is not None]
        for attachment_id, url, content_type, attempt in work:
            await self._fetch_one(attachment_id, url, content_type, attempt)
        return len(work)

    async def flush(self, *, max_rounds: int = 100) -> int:
        """Fetch until nothing is due now (tests)."""
        total = 0
        for _ in range(max_rounds):
            tried = await self.run_once()
            if tried == 0:
                break
            total += tried
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                tried = await self.run_once()
            except Exception:  # the loop must survive a database blip
                logger.exception("media fetch round failed")
                tried = 0
            if tried:
                continue
            self._wake.clear()
            await wait_any(self._wake, stop, timeout=self.policy.idle_poll)

    async def _fetch_one(self, attachment_id: int, url: str, content_type: str | None, attempt: int) -> None:
        try:
            part, size, digest, suffix = await self.download(url, content_type)
        except FetchFailed as exc:
            await self._failed(attachment_id, exc, attempt)
            return
        final = self.policy.directory / f"{uuid.uuid4().hex}{suffix}"
        try:
            async with transaction(self.sessions) as session:
                is_recorded = await media.mark_stored(
                    session, attachment_id=attachment_id, local_path=str(final), size=size, sha256=digest
                )
        except Exception:
            part.unlink(missing_ok=True)  # the lease runs out and the next try starts over
            raise
        if not is_recorded:  # erased or anonymised while we downloaded: keep nothing
            part.unlink(missing_ok=True)
            logger.info("media of attachment %s dropped: the attachment was erased meanwhile", attachment_id)
            return
        # Renamed only after the row names it, so `sweep` never sees an unrecorded final file.
        os.replace(part, final)
        logger.info("media of attachment %s stored (%s bytes)", attachment_id, size)

    async def _failed(self, attachment_id: int, exc: FetchFailed, attempt: int) -> None:
        gives_up = not exc.transient or attempt >= self.policy.max_attempts
        retry_at = None if gives_up else self.clock() + self.backoff(attempt)
        async with transaction(self.sessions) as session:
            await media.mark_failed(session, attachment_id=attachment_id, error=exc.reason, retry_at=retry_at)
        level = logging.WARNING if gives_up else logging.INFO
        outcome = "given up" if gives_up else "will retry"
        logger.log(
            level, "media of attachment %s not stored: %s (attempt %s of %s, %s)",
            attachment_id, exc.reason, attempt, self.policy.max_attempts, outcome,
        )

    def backoff(self, attempt: int) -> timedelta:
        return min(self.policy.backoff_cap, self.policy.backoff_base * (1 << max(0, attempt - 1)))

    async def download(self, url: str, content_type: str | None) -> tuple[Path, int, str, str]:
        """Stream `url` into a part file; returns it with its size, SHA-256 and file suffix.

        Twilio answers the media URL with a redirect to its storage host. httpx sends the
        Basic credentials with the first request only and drops Authorization on a
        redirect to another origin (``Client._redirect_headers``), so the storage host
        never sees them (tests/bot/test_media.py checks it against the fake).
        """
        if not _same_origin(url, self.policy.api_base_url):
            raise FetchFailed("not-twilio-url", transient=False)
        directory = self.policy.directory
        part = directory / f"{uuid.uuid4().hex}{PART_SUFFIX}"
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            async with self.http.stream("GET", url, auth=self.auth, follow_redirects=True) as response:
                _check(response, content_type, self.policy.max_bytes)
                size, digest = await self._write(response, part)
        except FetchFailed:
            part.unlink(missing_ok=True)
            raise
        except httpx.TooManyRedirects:
            part.unlink(missing_ok=True)
            raise FetchFailed("too-many-redirects", transient=False) from None
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise FetchFailed(type(exc).__name__, transient=True) from None
        except OSError as exc:  # an unwritable folder, a full disk: counted like any try, so it ends (issue 13)
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
            code = errno.errorcode.get(exc.errno or 0, "")
            raise FetchFailed(f"{type(exc).__name__} {code}".strip(), transient=True) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return part, size, digest, _suffix(content_type)

    async def _write(self, response: httpx.Response, part: Path) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise FetchFailed("too-big", transient=False)
                digest.update(chunk)
                out.write(chunk)
        return size, digest.hexdigest()


def _check(response: httpx.Response, content_type: str | None, max_bytes: int) -> None:
    status = response.status_code
    if status != 200:
        raise FetchFailed(f"HTTP {status}", transient=status >= 500 or status in _TRANSIENT_STATUSES)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed("too-big", transient=False)
    served = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and served and served != content_type.split(";", 1)[0].strip().lower():
        raise FetchFailed("content-type", transient=False)


def _same_origin(url: str, base: str) -> bool:
    a, b = httpx.URL(url), httpx.URL(base)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _suffix(content_type: str | None) -> str:
    """A file suffix from the content type alone (the name never carries anything the citizen sent)."""
    guessed = mimetypes.guess_extension((content_type or "").split(";", 1)[0].strip().lower()) or ""
    return guessed if _EXTENSION.match(guessed) else ".bin"


async def sweep(sessions: async_sessionmaker[AsyncSession], directory: Path) -> int:
    """Delete copies no attachment records any more (erased, anonymised by retention); returns how many.

    The folder is listed before the database is asked, and the fetcher renames a copy into
    place only after its row is committed, so a copy being stored is never taken for a leftover.
    """
    if not directory.is_dir():
        return 0
    files = [p for p in directory.iterdir() if p.is_file() and _OURS.match(p.name)]
    finals = {str(p): p for p in files if not p.name.endswith(PART_SUFFIX)}
    async with sessions() as session:
        kept = await media.referenced(session, paths=list(finals))
    removed = 0
    for key, path in finals.items():
        if key not in kept:
            path.unlink(missing_ok=True)
            removed += 1
    stale = time.time() - STALE_PART_SECONDS
    for path in files:
        if path.name.endswith(PART_SUFFIX) and path.stat().st_mtime < stale:
            path.unlink(missing_ok=True)
    if removed:
        logger.info("deleted %s media copies no need records any more", removed)
    return removed

