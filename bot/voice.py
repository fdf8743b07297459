"""The transcriber: voice notes listened to after the turn that received them was committed (issue 16).

The turn stores the note (`VoiceNoteQueued` → `storage.voice.queue`) and wakes this worker after
the commit. It claims one note at a time with a lease on the database's clock (as the media
fetcher does), fetches the audio through the channel (Telegram's getFile, Twilio's authenticated
media URL), transcribes it in its one worker thread (`Speech.hear` is CPU-bound: never on the event
loop, and never two at once in a process) and hands the words to the pipeline as an `Inbound`
carrying a `Transcript`, under the key ``voice-<id>``: delivered, then marked heard, so a worker that
dies in between transcribes again and the pipeline drops the second delivery as a duplicate.

The audio file is deleted as soon as it is heard; the words are logged nowhere (ids, outcome and
seconds only). A note that cannot be fetched or heard is tried `max_attempts` times, then the
citizen is told (`HeardOutcome.FAILED`): the audio reference stays with their request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import wait_any
from bot.clock import DatabaseClock, now_in
from bot.speech import Heard
from conversations import HeardOutcome, Inbound, Transcript
from storage import voice
from storage.db import transaction

logger = logging.getLogger(__name__)

FetchAudio = Callable[[str, str | None, Path], Awaitable[Path]]
"""A channel's download of one audio file: (its reference, content type, folder) → the local file."""
Deliver = Callable[[Inbound], Awaitable[object]]


class Hearing(Protocol):
    """`bot.speech.Speech`, or a stand-in in tests."""

    def hear(self, audio: Path, *, max_seconds: float) -> Heard: ...


@dataclass(frozen=True, slots=True)
class VoicePolicy:
    """From ``[voice]``: where audio waits, how long a note may be, how hard we try."""

    audio_dir: Path
    max_seconds: float = 180.0
    max_attempts: int = 3
    backoff: timedelta = timedelta(seconds=30)
    lease: timedelta = timedelta(minutes=10)
    """Longer than any transcription of a note under `max_seconds` on a slow machine."""
    idle_poll: float = 30.0


NICENESS: Final = 10
"""The transcriber's thread (and the model's threads it starts) yields the CPU to the event loop's replies."""


def yield_cpu() -> None:
    """Lower this thread's priority (Linux: per thread; the threads it creates inherit it). Best effort."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class Transcriber:
    """One per process; several processes share the queue safely (leased claims)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        speech: Hearing,
        deliver: Deliver,
        fetchers: Mapping[str, FetchAudio],
        *,
        policy: VoicePolicy,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.speech = speech
        self.deliver = deliver
        self.fetchers = dict(fetchers)
        self.policy = policy
        self.clock = clock or DatabaseClock()
        self._wake = asyncio.Event()
        # One thread: at most one transcription at a time in this process, off the event loop.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcriber", initializer=yield_cpu)

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Listen to one due note; returns 1 if there was one, else 0."""
        async with transaction(self.sessions) as session:
            now = await now_in(session, self.clock)
            claimed = await voice.claim_due(session, now=now, lease_until=now + self.policy.lease, limit=1)
        for note in claimed:
            await self._listen(note)
        return len(claimed)

    async def flush(self, *, max_rounds: int = 100) -> int:
        """Listen until nothing is due now (tests, bench)."""
        total = 0
        for _ in range(max_rounds):
            if not await self.run_once():
                break
            total += 1
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    heard = await self.run_once()
                except Exception as exc:  # the loop must survive a database blip
                    logger.error("voice round failed (%s)", type(exc).__name__)
                    heard = 0
                if heard:
                    continue
                self._wake.clear()
                await wait_any(self._wake, stop, timeout=self.policy.idle_poll)
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _listen(self, note: voice.Claimed) -> None:
        started = time.perf_counter()
        try:
            heard = await self._hear(note)
        except Exception as exc:  # a fetch that failed, a file the decoder refused, the model crashing
            await self._failed(note, type(exc).__name__)
            return
        await self._finish(note, heard)
        logger.info(
            "voice note %s: %s, %.1f s of audio in %.1f s", note.id, heard.outcome, heard.seconds, time.perf_counter() - started
        )

    async def _hear(self, note: voice.Claimed) -> Heard:
        fetch = self.fetchers.get(note.channel)
        if fetch is None:
            raise LookupError(f"no audio download for channel {note.channel}")
        self.policy.audio_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        audio = await fetch(note.ref, note.content_type, self.policy.audio_dir)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, lambda: self.speech.hear(audio, max_seconds=self.policy.max_seconds))
        finally:
            with contextlib.suppress(OSError):
                audio.unlink(missing_ok=True)  # heard or not, the copy goes: the channel still holds the note

    async def _failed(self, note: voice.Claimed, error: str) -> None:
        if note.attempt < self.policy.max_attempts:
            retry_at = self.clock() + self.policy.backoff * note.attempt
            async with transaction(self.sessions) as session:
                await voice.retry_later(session, note_id=note.id, error=error, retry_at=retry_at)
            logger.info("voice note %s not heard (%s), attempt %s of %s", note.id, error, note.attempt, self.policy.max_attempts)
            return
        logger.warning("voice note %s not heard (%s) after %s attempts: the citizen is told", note.id, error, note.attempt)
        await self._finish(note, Heard(HeardOutcome.FAILED))

    async def _finish(self, note: voice.Claimed, heard: Heard) -> None:
        """The words to the conversation first, then the note marked: a crash between them re-delivers a duplicate."""
        event = Inbound(
            channel=note.channel,
            external_id=f"voice-{note.id}",
            sender=note.sender,
            received_at=self.clock(),
            transcript=Transcript(ref=note.ref, outcome=heard.outcome, text=heard.text, step=note.step),
        )
        await self.deliver(event)
        async with transaction(self.sessions) as session:
            await voice.heard(
                session, note_id=note.id, status=str(heard.outcome), transcript=heard.text or None, seconds=heard.seconds or None
            )
