"""Types every channel adapter shares: the outgoing message, the sender contract and where inbound events go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


class Accepted(Protocol):
    """What the sink says of an inbound it stored: `duplicate` when it had been stored before,
    `failed` when its turn raised and it was stored as failed (the citizen was told to try again)."""

    @property
    def duplicate(self) -> bool: ...

    @property
    def failed(self) -> bool: ...


class InboundSink(Protocol):
    """Where adapters hand inbound events (the pipeline).

    `handle` returns once the event is committed and raises when it was not, so an
    adapter acknowledges to its provider only what is stored. A turn that failed is stored
    too (as a dead letter): the adapter acknowledges it and moves on.
    """

    async def handle(self, event: Inbound) -> Accepted: ...
