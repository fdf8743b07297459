"""One attempt at one outbox row, and what its outcome writes: sent, held, retried later, or failed for good."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import Held, Outgoing, Rejected, SendError, Sender, Throttled, Unreachable, Unsubscribed
from storage import citizens, delivery, outbox
from storage.db import transaction
from storage.models import OutboxMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS architecture blog), capped, for transient errors."""

    max_attempts: int = 8
    base: float = 1.0
    cap: float = 300.0
    max_throttled_seconds: float = 3600.0
    """A row's waits on the provider's 429s, in all: past it the row fails, so no 429 lasts for ever."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2 ** max(0, attempt - 1)))


class RowSender:
    """Sends a row through its channel's sender and records the outcome, each in its own short transaction.

    It owns the retry policy, because only it sees what was already attempted; senders own the
    provider's pacing (rate limits). Marking a row sent is not here: the dispatcher commits those
    in groups.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.sessions, self.senders, self.policy, self.clock, self.rng = sessions, senders, policy, clock, rng

    async def send(
        self, row: OutboxMessage, sent: list[tuple[int, str | None]], contact: delivery.Contact | None = None
    ) -> bool:
        """Send one row; False when the rest of its chat must wait behind it."""
        assert row.id is not None
        sender = self.senders[row.channel]
        if contact is not None and contact.opted_out_at is not None and not _is_reply(row, contact):
            # STOP: we still answer what they write, but start nothing ourselves (docs/architecture.md).
            async with transaction(self.sessions) as session:
                await outbox.fail(session, message_id=row.id, error="opted out: not a reply to their message")
            logger.info("outbox %s not sent: citizen %s opted out", row.id, row.citizen_id)
            return True
        message = Outgoing(
            outbox_id=row.id,
            recipient=row.recipient,
            text=row.text,
            options=tuple((o["payload"], o["label"]) for o in row.options),
            number_hint=row.number_hint,
            conversation_version=row.conversation_version,
            last_inbound_at=contact.last_inbound_at if contact is not None else None,
            previous_error_code=row.error_code,
            attachment_path=row.attachment_path,
            attachment_type=row.attachment_type,
        )
        try:
            provider_id = await sender.send(message)
        except Held as exc:
            async with transaction(self.sessions) as session:
                await delivery.hold(session, message_id=row.id, reason=f"Held: {exc.reason}")
            logger.warning("outbox %s held: %s", row.id, exc.reason)
            return True
        except SendError as exc:
            await self._record_failure(row, exc)
            return False
        except Exception as exc:  # an adapter bug must not lose the row: retry it like a transient error
            # The exception's text may quote the message or its recipient: its class only, the traceback at DEBUG.
            logger.error("sender %s crashed on outbox %s (%s)", row.channel, row.id, type(exc).__name__)
            logger.debug("sender %s crashed on outbox %s", row.channel, row.id, exc_info=True)
            await self._record_failure(row, SendError(type(exc).__name__))
            return False
        sent.append((row.id, provider_id))
        return True

    async def _record_failure(self, row: OutboxMessage, exc: SendError) -> None:
        assert row.id is not None
        now = self.clock()
        reason = f"{type(exc).__name__}: {exc.reason}"[:300]
        async with transaction(self.sessions) as session:
            if isinstance(exc, Throttled) and row.throttled_seconds + exc.retry_after <= self.policy.max_throttled_seconds:
                # The provider told us exactly when; waiting is not a failed attempt, but the waits add up.
                at = now + timedelta(seconds=exc.retry_after)
                await outbox.retry_at(session, message_id=row.id, at=at, error=reason, count_attempt=False, waited=exc.retry_after)
            elif isinstance(exc, Unreachable):
                code = getattr(exc, "code", None)
                if code is not None:  # the provider's own code on the row that met it (Twilio 21610)
                    await outbox.fail(session, message_id=row.id, error=reason, error_code=str(code))
                await outbox.fail_recipient(session, channel=row.channel, recipient=row.recipient, error=reason)
                await citizens.mark_unreachable(session, citizen_id=row.citizen_id, now=now, is_opt_out=isinstance(exc, Unsubscribed))
                logger.warning("outbox %s: recipient unreachable, pending messages failed", row.id)
            elif isinstance(exc, (Rejected, Throttled)) or row.attempts + 1 >= self.policy.max_attempts:
                code = str(exc.code) if isinstance(exc, Rejected) else None
                await outbox.fail(session, message_id=row.id, error=reason, error_code=code)
                logger.error("outbox %s failed for good: %s", row.id, reason)
            else:
                delay = self.policy.delay(row.attempts + 1, self.rng)
                await outbox.retry_at(session, message_id=row.id, at=now + timedelta(seconds=delay), error=reason)
                logger.warning("outbox %s: %s, retrying in %.1fs", row.id, reason, delay)


def _is_reply(row: OutboxMessage, contact: delivery.Contact) -> bool:
    """Written no later than the citizen's last message: an answer to them, not something we started."""
    return contact.last_inbound_at is not None and row.created_at <= contact.last_inbound_at
