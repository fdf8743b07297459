"""Telegram long polling that confirms an update to Telegram only after it is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram import Bot, Update
from telegram.error import RetryAfter, TelegramError

from handlers import telegram
from storage.db import is_outage

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How the loop waits: Telegram's long-poll timeout, backoff on errors, poison updates."""

    timeout: int = 30
    """Seconds a getUpdates may wait for news (Telegram wants a whole number)."""
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_update_attempts: int = 5
    """An update that fails this often for a reason other than a database outage is skipped
    (logged): otherwise one bad update would stop the whole bot. Telegram gives up on a webhook
    update after a few failed deliveries too. (A turn that raises does not come here: the
    pipeline stores it as a dead letter. This is for what fails around it.)"""


class Poller:
    """getUpdates → process each update in order → only then the next getUpdates.

    PTB's Updater asks for the next batch (and so confirms the previous one, since
    an offset confirms every update before it) while queued updates are still being
    handled: a crash then loses them. Here the offset moves past an update only
    after `process` returned, i.e. after the pipeline committed it.
    https://core.telegram.org/bots/api#getupdates
    """

    def __init__(
        self,
        bot: Bot,
        process: Callable[[Update], Awaitable[None]],
        policy: PollPolicy = PollPolicy(),
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.bot = bot
        self.process = process
        self.policy = policy
        self.rng = rng or random.Random()
        self._attempts: dict[int, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():  # a webhook left by an earlier deployment makes getUpdates fail (409)
            try:
                await self.bot.delete_webhook()
                break
            except TelegramError as exc:
                failures += 1
                await self._wait_after(exc, failures, stop)
        offset: int | None = None
        confirmed: int | None = None
        failures = 0  # of getUpdates in a row
        stuck = 0  # failures of the update at the head of the queue, in a row: its backoff grows
        while not stop.is_set():
            try:
                updates = await _unless_stopped(
                    stop,
                    self.bot.get_updates(
                        offset=offset, timeout=self.policy.timeout, allowed_updates=list(telegram.ALLOWED_UPDATES)
                    ),
                )
            except TelegramError as exc:
                failures += 1
                await self._wait_after(exc, failures, stop)
                continue
            if updates is None:
                break
            failures, confirmed = 0, offset
            for update in updates:
                if stop.is_set():
                    break
                try:
                    await self.process(update)
                except Exception as exc:  # not stored: the same offset asks Telegram for it again
                    if not self._give_up(update, exc):
                        stuck += 1
                        await self._wait_after(exc, stuck, stop)
                        break
                self._attempts.pop(update.update_id, None)
                stuck = 0
                offset = update.update_id + 1
        if offset != confirmed:
            await self._confirm(offset)

    def _give_up(self, update: Update, exc: Exception) -> bool:
        # Class names only: SQLAlchemy's messages carry the bound parameters, i.e. what people wrote.
        if is_outage(exc):  # only the database's errors: an OSError of a file is the update's own (issue 13)
            logger.error("telegram update %s not stored, database unavailable (%s)", update.update_id, type(exc).__name__)
            return False
        attempts = self._attempts.get(update.update_id, 0) + 1
        self._attempts[update.update_id] = attempts
        if attempts < self.policy.max_update_attempts:
            logger.error("telegram update %s failed (%s), attempt %d", update.update_id, type(exc).__name__, attempts)
            return False
        del self._attempts[update.update_id]
        logger.error("telegram update %s skipped after %d failures (%s)", update.update_id, attempts, type(exc).__name__)
        return True

    async def _confirm(self, offset: int | None) -> None:
        """On the way out, confirm what was committed, as PTB's Updater does when it stops."""
        if offset is None:
            return
        try:
            await self.bot.get_updates(offset=offset, timeout=0, limit=1)
        except TelegramError as exc:  # they come again at the next start and are dropped as duplicates
            logger.info("telegram: last updates not confirmed: %s", type(exc).__name__)

    async def _wait_after(self, exc: BaseException, failures: int, stop: asyncio.Event) -> None:
        if isinstance(exc, RetryAfter):
            seconds = telegram.retry_after_seconds(exc)
        else:
            # Full jitter, like the dispatcher: restarted workers do not poll in step.
            ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** min(failures - 1, 30))
            seconds = self.rng.uniform(ceiling / 2, ceiling)
        logger.warning("telegram polling: %s, waiting %.1fs", type(exc).__name__, seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None if `stop` is set first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    await asyncio.wait({task})  # let the cancelled request close its connection
    if not task.cancelled():
        task.exception()  # retrieved: an error after stop is of no interest
    return None
