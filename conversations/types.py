"""Value types shared by the engine and the flows (the engine's contract with its caller)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

from conversations.effects import Effect
from conversations.messages import Reply

if TYPE_CHECKING:
    from conversations.comuni import Gazetteer

Answers: TypeAlias = Mapping[str, object]
"""The answers collected so far in a flow, JSON-serialisable (they are stored)."""

Clock: TypeAlias = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Category:
    """A category as offered to this citizen, label already in their language."""

    slug: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NeedSummary:
    """One of the citizen's needs, as listed by /miei."""

    ticket: str
    category_label: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Context:
    """Everything `step` may know about the world, passed in so `step` stays pure.

    `new_id` and `ticket` are fresh values the pipeline drew for a need this
    turn might create; `now` is the only clock.
    """

    now: datetime
    gazetteer: Gazetteer
    categories: tuple[Category, ...]
    new_id: str = ""
    ticket: str = ""
    has_consent: bool = False
    needs: tuple[NeedSummary, ...] = ()
    idle_timeout: timedelta = timedelta(hours=24)
    notice_version: int = 1
    controller: str = ""
    retention_days: int = 365


@dataclass(frozen=True, slots=True)
class State:
    """Where a citizen is; stored as-is in the conversation row.

    `version` grows on every turn; buttons carry it so an old button is refused.
    """

    flow_id: str | None = None
    flow_version: int = 0
    step_id: str | None = None
    answers: Answers = field(default_factory=lambda: MappingProxyType({}))
    history: tuple[str, ...] = ()
    misses: int = 0
    version: int = 0
    updated_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.flow_id is not None and self.step_id is not None


@dataclass(frozen=True, slots=True)
class Turn:
    """What one inbound produced; the pipeline stores all of it in one transaction."""

    state: State
    replies: tuple[Reply, ...]
    effects: tuple[Effect, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a flow ending returns: replies, effects, and optionally a flow to start next."""

    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
    start: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The citizen's answer to one step: the typed text and, for options, the chosen payload."""

    text: str
    choice: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """A parser's "try again", e.g. ``Retry("intake.retry_phone")`` (the msgid carries an example)."""

    msgid: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
