"""Channel-neutral values that cross the engine boundary: what came in and what goes out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

@dataclass(frozen=True, slots=True)
class Msg:
    """A translatable text: a gettext msgid and its named placeholders.

    Example: ``Msg("intake.done", {"ticket": "K7M-42P"})``.
    """

    id: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


class MediaKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    VIDEO = "video"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Media:
    """A file the citizen sent; `ref` is the provider's id or URL, never the bytes."""

    kind: MediaKind
    ref: str
    content_type: str | None = None
    size: int | None = None
    transcript: str | None = None
    """What a voice note said, once listened to (operators read it next to the audio)."""


class HeardOutcome(StrEnum):
    """What listening to a voice note gave (`bot/speech.py`)."""

    HEARD = "heard"
    EMPTY = "empty"
    """Silence or noise: no words in it."""
    TOO_LONG = "too_long"
    """Longer than ``[voice] max_seconds``: not transcribed."""
    FAILED = "failed"
    """The audio could not be fetched or the transcriber crashed, after its tries."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """A voice note of this citizen, listened to after the turn that received it was committed.

    `ref` names the note among the answers' media; `step` is the question it was sent at (a
    transcript that arrives once the conversation has moved on is only kept with the audio).
    """

    ref: str
    outcome: HeardOutcome
    text: str = ""
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A point shared from the phone, e.g. ``Location(44.41, 12.20)``."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Inbound:
    """One event from a channel, already translated by its adapter.

    `sender` is the channel's own id for the person (Telegram user id, WhatsApp
    number, console name). `choice` is a button payload, `text` what was typed.
    `conversation_version` comes with a button press so a stale button is refused.
    """

    channel: str
    external_id: str
    sender: str
    received_at: datetime
    text: str | None = None
    choice: str | None = None
    conversation_version: int | None = None
    location: Location | None = None
    media: tuple[Media, ...] = ()
    is_unsupported: bool = False
    reply_to: str | None = None
    """The provider's id of our message this one answers (a Telegram reply); what it means is the engine's call."""
    transcript: Transcript | None = None
    """Not from the channel: the words of a voice note this citizen sent earlier (`bot/voice.py`)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer the citizen can pick.

    `payload` is stored and travels in buttons; `label` is shown; `aliases` are
    extra words that select it when typed (e.g. ``("si", "yes", "ok")``).
    """

    payload: str
    label: Msg | str
    aliases: tuple[str, ...] = ()
    means: str | None = None
    """``"yes"`` or ``"no"`` on a yes/no question: then any way of saying yes or no selects it
    (`conversations.understanding.polarity`), and an unclear answer selects nothing."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the citizen; adapters decide how options look on their channel."""

    text: Msg
    options: tuple[Option, ...] = ()
    about: str | None = None
    """The need this message is about (its id): a Telegram reply to it is about that need too."""
