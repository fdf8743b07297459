"""The one argument every loader gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.roles import Sender
from conversations import Call, Inbound, Reads, State


@dataclass(frozen=True, slots=True)
class Reading:
    """What a loader may look at: the message, its command, the conversation, the sender."""

    session: AsyncSession
    event: Inbound
    state: State
    call: Call | None
    reads: frozenset[Reads]
    sender: Sender
    now: datetime
    page_size: int
    invite_attempts: int = 5
    """Refused invite codes a sender may try in an hour (`[operators] invite_attempts_per_hour`)."""
    digest_pause: timedelta = timedelta(minutes=10)
    """`/digest_ora` refuses a repeat this soon after the last digest (`[scheduler] digest_repeat_minutes`)."""

    @property
    def args(self) -> tuple[str, ...]:
        return self.call.args if self.call is not None else ()
