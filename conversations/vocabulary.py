"""The domain's words, defined once: `storage` keeps these values in its columns, the engine reasons with them.

The values are the strings stored in the database (Italian, as the first users read them in
exports and the audit log): changing one is a data migration, not a rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """Who is writing: what commands they may use (`staff_role.role` holds ``admin``)."""

    CITIZEN = "citizen"
    OPERATOR = "operator"
    ADMIN = "admin"


class OperatorRole(StrEnum):
    """An operator's role in their cooperative (`operator.role`, `invite.role`)."""

    OPERATOR = "operatore"
    COORDINATOR = "coordinatore"


class NeedStatus(StrEnum):
    """Where a need stands (`need.status`); the citizen hears about each change."""

    NEW = "nuova"
    CLAIMED = "presa_in_carico"
    IN_PROGRESS = "in_corso"
    RESOLVED = "risolta"
    CLOSED = "chiusa"


OPEN_STATUSES: Final = (NeedStatus.NEW, NeedStatus.CLAIMED, NeedStatus.IN_PROGRESS)
"""A cooperative still has work to do: listed by /richieste, counted in the digest."""
ENDED_STATUSES: Final = (NeedStatus.RESOLVED, NeedStatus.CLOSED)
"""Work is over: retention counts from the first of these."""


class Urgency(StrEnum):
    """How soon the citizen needs help (`need.urgency`), most urgent first."""

    HIGH = "alta"
    MEDIUM = "media"
    LOW = "bassa"


class ContactMethod(StrEnum):
    """How the citizen wants to be reached (`need.contact_method`)."""

    CHAT = "chat"
    PHONE = "telefono"


class AssignmentStatus(StrEnum):
    """A need offered to one cooperative (`need_assignment.status`)."""

    ROUTED = "inviata"
    DECLINED = "rifiutata"
    TRANSFERRED = "trasferita"
    """It held the need and passed it to another cooperative (`/trasferisci`): it no longer sees it."""


class FollowUpKind(StrEnum):
    """A message we start about a need (`follow_up.kind`); one of each kind at most per need."""

    STILL_NEEDED = "ancora_attuale"
    SATISFACTION = "soddisfazione"
    REMINDER = "promemoria"
    ESCALATION = "segnalazione_admin"


class TerritoryKind(StrEnum):
    """What the code of a cooperative's territory item names (`cooperative_territory.kind`)."""

    COMUNE = "comune"
    """`code` is an ISTAT code, e.g. ``"039014"`` (Ravenna)."""
    PROVINCIA = "provincia"
    """`code` is the province's two-letter code, e.g. ``"RA"``."""
    REGIONE = "regione"
    """`code` is the region's name as in the ISTAT list, e.g. ``"Emilia-Romagna"``."""
