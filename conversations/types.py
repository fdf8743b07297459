"""Value types shared by the engine and the flows (the engine's contract with its caller)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

from conversations.effects import Effect
from conversations.messages import Reply
from conversations.staff import Staff

if TYPE_CHECKING:
    from conversations.comuni import Gazetteer

Answers: TypeAlias = Mapping[str, object]
"""The answers collected so far in a flow, JSON-serialisable (they are stored)."""

Clock: TypeAlias = Callable[[], datetime]

Suggest: TypeAlias = Callable[[str], tuple[tuple[str, float], ...]]
"""A description → the categories' slugs with a confidence (0-1), best first; empty when unsure.

Built by `bot/suggest.py` from a sentence-embedding model loaded once per process; deterministic."""

DetectLanguage: TypeAlias = Callable[[str], str | None]
"""A message → the ISO 639-1 code of its language ("en"), or None when too short or unsure."""


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
    id: str = ""
    cooperative: str | None = None
    """The name of the cooperative that holds it; None while we look for one."""
    changed_at: datetime | None = None
    """When its status last changed (the creation, until it changes)."""


@dataclass(frozen=True, slots=True)
class WaitingMessage:
    """A cooperative's message held behind WhatsApp's template, shown at the citizen's next message."""

    id: int
    need_id: str
    ticket: str
    cooperative: str
    text: str


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One message of a need's thread as the holding cooperative reads it; `direction` is a stored `Direction`."""

    at: datetime
    direction: str
    text: str


@dataclass(frozen=True, slots=True)
class OperatorView:
    """The operator writing, loaded only for operator commands."""

    id: int
    cooperative_id: int
    cooperative_name: str
    role: str


@dataclass(frozen=True, slots=True)
class InviteView:
    """The invite named by ``/operatore CODICE``, if it exists."""

    code: str
    cooperative_id: int
    cooperative_name: str
    role: str
    expires_at: datetime
    is_used: bool


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of a need's history: a status (or ``"nota"``, ``"trasferita"``) and its note, and who did it."""

    at: datetime
    status: str
    note: str | None = None
    operator_id: int | None = None
    """The operator behind the change, shown as "operatore #N"; None: the citizen, an admin or the system."""
    cooperative: str | None = None
    """Where a transfer sent the need."""


@dataclass(frozen=True, slots=True)
class NeedView:
    """A need as an operator of `cooperative` may see it; `contact_phone` is set only once they claimed it."""

    id: str
    ticket: str
    category_label: str
    comune_name: str
    urgency: str
    status: str
    description: str
    created_at: datetime
    contact_method: str = "chat"
    contact_phone: str | None = None
    claimed_by: str | None = None
    """The name of the cooperative that claimed it."""
    is_ours: bool = False
    """Claimed by the operator's own cooperative."""
    is_offered: bool = False
    """Routed to the operator's cooperative and not declined."""
    history: tuple[HistoryItem, ...] = ()
    thread: tuple[ThreadItem, ...] = ()
    """What the cooperative and the citizen wrote to each other: loaded only for the holding cooperative."""
    satisfaction: int | None = None
    """The citizen's score 1-5 after resolution; read only for the cooperative that holds it."""
    satisfaction_comment: str | None = None
    is_erased: bool = False
    is_withdrawn: bool = False
    """The citizen withdrew it (`/ritira`): only they can ask again, so nobody reopens it."""
    """Retention or the citizen's erasure emptied it: there is nothing left to work on."""

    voice_notes: tuple[str | None, ...] = ()
    """The words of each voice note sent with it (issue 16), None where none were heard."""

@dataclass(frozen=True, slots=True)
class TargetView:
    """The cooperative a command names by slug (`/assegna`, `/trasferisci`), and what it already had of the need."""

    id: int
    slug: str
    name: str
    is_active: bool
    operators: int = 0
    had: str | None = None
    """Its `AssignmentStatus` for the need in the same command; None when it never had it."""


@dataclass(frozen=True, slots=True)
class Desk:
    """What an operator command may read: loaded by the pipeline only for those commands."""

    operator: OperatorView | None = None
    invite: InviteView | None = None
    need: NeedView | None = None
    open_needs: tuple[NeedView, ...] = ()
    open_total: int = 0
    page: int = 1
    page_size: int = 5
    invite_locked: bool = False
    target: TargetView | None = None
    """The cooperative named after the ticket (`/assegna`, `/trasferisci`), if it exists."""
    """Too many refused invite codes from this sender in the last hour: the code is not even looked up."""


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
    desk: Desk = field(default_factory=Desk)
    """Operator data; empty unless the message is an operator command."""
    is_opted_out: bool = False
    """The citizen wrote STOP on WhatsApp (or Twilio said 21610); START clears it."""
    staff: Staff = field(default_factory=Staff)
    """The sender's role and admin data; loaded only for staff commands and flows (issue 7)."""
    attachments_per_need: int | None = None
    """Files one request keeps (``[limits]``); None: no cap."""
    needs_per_day: int | None = None
    """New requests in 24 hours (``[limits]``); None: no cap (staff, or a tool)."""
    language: str = "it"
    """The language the citizen is written to in."""
    covered: bool | None = None
    """At the intake's confirmation: whether an active cooperative covers the comune and category
    (`Reads.COVERAGE`); None when not read. False: the citizen is told we are still looking."""
    languages: tuple[str, ...] = ("it", "en")
    """The languages with a catalog (`Translator.languages`): the ones a citizen can be offered."""
    suggest: Suggest | None = None
    """Suggests a category from a description (issue 14); None where no model is loaded."""
    detect_language: DetectLanguage | None = None
    """Tells the language of a message (issue 14); None where no detector is loaded."""
    thread_need_id: str | None = None
    """The need whose cooperative the citizen has a conversation open with (until `thread_until`)."""
    thread_until: datetime | None = None
    waiting: tuple[WaitingMessage, ...] = ()
    """Cooperative messages held behind WhatsApp's template: shown at this message."""
    replied_need_id: str | None = None
    """The citizen's need that the message they reply to (Telegram) was about."""
    listens: bool = False
    """Voice notes on this channel are transcribed on our server (``[voice] enabled``): the bot says it is
    listening and waits for the transcript instead of asking to write."""


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
    answers: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """What the flow it starts knows already (a need told in the citizen's own words)."""


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
