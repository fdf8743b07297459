"""Domain effects the engine emits and the pipeline applies in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.messages import Location, Media


@dataclass(frozen=True, slots=True)
class ConsentGiven:
    """The citizen accepted the privacy notice, e.g. ``ConsentGiven(notice_version=1, at=now)``."""

    notice_version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ConsentRefused:
    """The citizen declined the notice; nothing of theirs is recorded beyond this fact."""

    at: datetime


@dataclass(frozen=True, slots=True)
class NeedCreated:
    """A confirmed need, e.g. ``NeedCreated(ticket="K7M42P", category="spesa", ...)``."""

    need_id: str
    ticket: str
    category: str
    description: str
    comune_istat: str
    urgency: str
    contact_method: str
    contact_phone: str | None
    location: Location | None
    media: tuple[Media, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class ConversationCancelled:
    """The citizen wrote /annulla at step `step_id`."""

    flow_id: str
    step_id: str


@dataclass(frozen=True, slots=True)
class ConversationExpired:
    """The citizen came back after the idle timeout; the old answers were dropped."""

    flow_id: str
    step_id: str


@dataclass(frozen=True, slots=True)
class HelpOffered:
    """The citizen missed the same question `misses` times; we offered help instead of looping."""

    flow_id: str
    step_id: str
    misses: int


Effect = (
    ConsentGiven
    | ConsentRefused
    | NeedCreated
    | ConversationCancelled
    | ConversationExpired
    | HelpOffered
)
