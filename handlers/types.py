"""Types every channel adapter shares: the outgoing message and the sender contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias

from conversations import Inbound


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbox row as a sender sees it: already in the citizen's language."""

    outbox_id: int
    recipient: str
    text: str
    options: tuple[tuple[str, str], ...] = ()
    """(payload, label) pairs."""
    number_hint: str = ""
    conversation_version: int | None = None
    last_inbound_at: datetime | None = None
    """The citizen's last message (filled by the dispatcher): WhatsApp's 24-hour window starts there."""
    previous_error_code: str | None = None
    """The provider's error for an earlier attempt of this row (Twilio 63016: resend as a template)."""
    attachment_path: str | None = None
    """A local file sent with the text (a digest chart, an export), e.g. ``var/digests/x.png``."""
    attachment_type: str | None = None
    """Its MIME type: ``image/*`` goes as a photo, anything else as a document."""


class Sender(Protocol):
    """Sends one message; returns the provider's message id or raises a `SendError`."""

    channel: str

    async def send(self, message: Outgoing) -> str | None: ...


InboundSink: TypeAlias = Callable[[Inbound], Awaitable[object]]
"""Where adapters hand inbound events: the pipeline's `handle`."""
