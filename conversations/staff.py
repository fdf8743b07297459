"""The read-only views staff commands answer from; the pipeline fills them only for those commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.vocabulary import Role


@dataclass(frozen=True, slots=True)
class Tally:
    """One line of a breakdown: ``Tally("Ravenna", 12)``."""

    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Stats:
    """`/statistiche`: SQL aggregates over needs created in [since, until)."""

    since: datetime
    until: datetime
    total: int = 0
    by_status: tuple[Tally, ...] = ()
    by_category: tuple[Tally, ...] = ()
    by_comune: tuple[Tally, ...] = ()
    by_cooperative: tuple[Tally, ...] = ()
    median_claim_hours: float | None = None
    median_resolve_hours: float | None = None
    follow_ups_sent: int = 0
    follow_ups_answered: int = 0
    follow_up_answers: tuple[Tally, ...] = ()
    """Answers to "is it still needed?": ``si``, ``no``, ``da_sola``."""
    satisfaction_count: int = 0
    satisfaction_mean: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What the outbox says about one channel: waiting rows, recent failures, the last message out."""

    channel: str
    pending: int = 0
    failed_24h: int = 0
    held: int = 0
    last_sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """`/stato_sistema`: outbox depth, failed and held rows, last scheduler runs, channel health."""

    outbox: tuple[Tally, ...] = ()
    oldest_pending_at: datetime | None = None
    jobs: tuple[tuple[str, datetime | None], ...] = ()
    """Scheduler work and when it last left a run row: ``("digest", at)``."""
    channels: tuple[ChannelHealth, ...] = ()
    failed_inbound_24h: int = 0
    """Inbounds whose turn raised in the last 24 hours (dead letters): each was told to try again."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row as `/audit` shows it, named by the reader: a ticket, a cooperative's slug, an operator's number.

    Never a phone number, a chat id or free text: the row itself holds none (`storage.audit.record`).
    """

    at: datetime
    action: str
    """A `storage.audit.AuditAction` value; shown by its label, the msgid ``audit.<action>``."""
    actor: str = "system"
    """The role that acted: ``admin``, ``operator``, ``citizen``, ``system`` or ``cli``."""
    by_operator: int | None = None
    """The acting operator's number (as `/operatori` lists it), when an operator acted."""
    by_cooperative: str | None = None
    """The acting operator's cooperative (slug)."""
    ticket: str | None = None
    cooperative: str | None = None
    """The cooperative the row is about (slug)."""
    operator: int | None = None
    """The operator the row is about (enrolled, revoked), by number."""
    status: str | None = None
    """The new status of a `status_changed` row (a `NeedStatus` value)."""
    detail: str = ""
    """A code: a command's name, a channel, a count."""
    is_known: bool = True
    """False for an action no longer in `AuditAction` (an old row): shown as stored."""


@dataclass(frozen=True, slots=True)
class OperatorEntry:
    """An operator as listed by `/operatori` (the chat id is shown to admins only)."""

    id: int
    cooperative: str
    channel: str
    external_id: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class CooperativeEntry:
    """A cooperative as `/cooperative` lists it."""

    id: int
    slug: str
    name: str
    is_active: bool
    operators: int = 0
    last_digest_at: datetime | None = None
    """When its digest last went or was asked for (`/digest_ora`); None: never."""
    digest_again_at: datetime | None = None
    """`/digest_ora` refuses a repeat before this (``[scheduler] digest_repeat_minutes`` after the last)."""


@dataclass(frozen=True, slots=True)
class CooperativeDetail:
    """A cooperative as `/cooperativa SLUG` shows it and `/modifica_cooperativa` starts from."""

    id: int
    slug: str
    name: str
    is_active: bool
    territory: tuple[tuple[str, str], ...] = ()
    """(kind, code) pairs, e.g. ``("provincia", "RA")``."""
    categories: tuple[str, ...] = ()
    digest_cron: str = "0 8 * * mon"
    timezone: str = "Europe/Rome"
    language: str = "it"
    operators: int = 0


@dataclass(frozen=True, slots=True)
class CategoryEntry:
    """A category as `/categorie` lists it, disabled ones included."""

    slug: str
    name_it: str
    name_en: str
    position: int
    is_active: bool
    synonyms: tuple[str, ...] = ()
    """Words people use for it, matched by lemma at the category question (`/sinonimi_categoria`)."""


@dataclass(frozen=True, slots=True)
class Staff:
    """Who is writing and what their command may read; empty for a citizen's ordinary message."""

    role: Role = Role.CITIZEN
    cooperative_id: int | None = None
    """The operator's cooperative (exports are limited to it)."""
    stats: Stats | None = None
    system: SystemStatus | None = None
    audit: tuple[AuditEntry, ...] = ()
    operators: tuple[OperatorEntry, ...] = ()
    cooperatives: tuple[CooperativeEntry, ...] = ()
    cooperative: CooperativeDetail | None = None
    """The cooperative a `/cooperativa`, `/modifica_cooperativa` or `/disattiva_cooperativa` names."""
    categories: tuple[CategoryEntry, ...] = ()
    """Every category in display order, disabled ones too (category commands and flows)."""
    recipients: int = 0
    """How many citizens an announcement being prepared would reach."""

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
