"""Domain effects the engine emits and the pipeline applies in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.messages import Location, Media
from conversations.thread_effects import CitizenWrote, CooperativeWrote, NeedWithdrawn, ThreadClosed, ThreadOpened, WaitingShown
from conversations.vocabulary import NeedStatus, Role


@dataclass(frozen=True, slots=True)
class ConsentGiven:
    """The citizen accepted the privacy notice, e.g. ``ConsentGiven(notice_version=1, at=now)``."""

    notice_version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ConsentRefused:
    """The citizen declined the notice; nothing of theirs is recorded, and a consent given before is withdrawn."""

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


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """Someone typed a command they may not use, e.g. ``CommandRefused(command="stato")``: logged, ids only."""

    command: str


@dataclass(frozen=True, slots=True)
class InviteRefused:
    """An `/operatore CODE` that enrolled nobody: ``reason`` is ``unknown``, ``used``, ``expired`` or ``locked``.

    Audited per sender; enough of them in an hour lock the sender out (`Desk.invite_locked`)."""

    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorEnrolled:
    """A valid invite was used: ``OperatorEnrolled(invite_code="K7MR4PXA", cooperative_id=3, role="operatore", at=now)``."""

    invite_code: str
    cooperative_id: int
    role: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NeedClaimed:
    """An operator pressed "Prendo in carico": the pipeline's conditional UPDATE decides who wins."""

    need_id: str
    ticket: str
    operator_id: int
    cooperative_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class NeedDeclined:
    """ "Non di nostra competenza": the need leaves this cooperative's list, e.g. ``NeedDeclined("ab12", ...)``."""

    need_id: str
    ticket: str
    operator_id: int
    cooperative_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """``/stato K7M-R4P risolta``: recorded with who and when; the citizen is told."""

    need_id: str
    ticket: str
    from_status: NeedStatus
    to_status: NeedStatus
    note: str | None
    actor: str
    """``"operator:3"`` or ``"citizen"``: never a name."""
    at: datetime


@dataclass(frozen=True, slots=True)
class NoteAdded:
    """``/nota K7M-R4P chiamata la figlia``: a note on the need's history."""

    need_id: str
    ticket: str
    operator_id: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NeedAssigned:
    """``/assegna K7M-R4P cantiere``: an admin gives a need nobody covers, or everybody declined, to a cooperative."""

    need_id: str
    ticket: str
    cooperative_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class NeedReopened:
    """A resolved or closed need is open again (``/riapri K7M-R4P``, or the citizen says it did not get resolved)."""

    need_id: str
    ticket: str
    from_status: NeedStatus
    operator_id: int | None
    """None: the citizen reopened it from the follow-up."""
    note: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class NeedTransferred:
    """``/trasferisci K7M-R4P rete motivo``: the holding cooperative passes the need on; it loses access."""

    need_id: str
    ticket: str
    from_cooperative_id: int
    to_cooperative_id: int
    operator_id: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FollowUpAnswered:
    """The citizen answered "is it still needed?": ``answer`` is ``si``, ``no`` or ``da_sola``."""

    need_id: str
    answer: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SatisfactionGiven:
    """The score 1-5 after resolution, and an optional comment."""

    need_id: str
    score: int
    comment: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class OptedOut:
    """WhatsApp STOP: we start no conversation with them any more, e.g. ``OptedOut(at=now)``."""

    at: datetime


@dataclass(frozen=True, slots=True)
class OptedIn:
    """WhatsApp START after a STOP: they receive follow-ups and updates again."""

    at: datetime


@dataclass(frozen=True, slots=True)
class RightsExercised:
    """A data-rights request, audited: ``right`` is ``informazione``, ``accesso``, ``cancellazione_chiesta``, ``lingua`` or ``annunci``."""

    right: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LanguageChanged:
    """``/lingua en``: replies from now on (this one included) are in English."""

    language: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BroadcastsRefused:
    """``/stop_annunci``: no `/annuncio` reaches this citizen any more."""

    at: datetime


@dataclass(frozen=True, slots=True)
class BroadcastsAccepted:
    """``/ricevi_annunci``: announcements reach them again."""

    at: datetime


@dataclass(frozen=True, slots=True)
class DataErasureRequested:
    """The citizen confirmed ``/cancella_dati``: every personal field is erased or pseudonymised."""

    at: datetime


@dataclass(frozen=True, slots=True)
class StaffCommandUsed:
    """An admin or operator read something (``/audit``, ``/statistiche``): audited with the command name only."""

    command: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RoleGranted:
    """``/nomina_admin telegram 123``, confirmed: ``RoleGranted("admin", "telegram", "123", at)``."""

    role: Role
    channel: str
    external_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RoleRevoked:
    """``/revoca_admin telegram 123``, confirmed (admins from the config file cannot be revoked from the chat)."""

    role: Role
    channel: str
    external_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorRevoked:
    """``/revoca_operatore 4``, confirmed: the operator stops receiving needs and using desk commands."""

    operator_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class InviteCreated:
    """``/invito cantiere``: a single-use code for a new operator of that cooperative."""

    cooperative_id: int
    code: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ExportRequested:
    """``/esporta 2026-11-01 2026-11-30``: CSV and XLSX sent back; personal fields only when ``include_personal``."""

    since: datetime
    until: datetime
    include_personal: bool
    cooperative_id: int | None
    """None: every need (admins); else only needs routed to or claimed by that cooperative."""
    at: datetime


@dataclass(frozen=True, slots=True)
class BroadcastRequested:
    """A confirmed ``/annuncio``: queued for every citizen who did not opt out, within the filters."""

    text: str
    comune_istat: str | None
    category: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CategoryAdded:
    """``/nuova_categoria``, confirmed: ``CategoryAdded("trasporti", "Trasporti", "Transport", at)``, placed last."""

    slug: str
    name_it: str
    name_en: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CategoryRenamed:
    """``/rinomina_categoria spesa``, confirmed: new Italian and English names."""

    slug: str
    name_it: str
    name_en: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CategorySynonymsSet:
    """``/sinonimi_categoria solitudine``, confirmed: the words people use for it (none clears them)."""

    slug: str
    synonyms: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class CategoryMoved:
    """``/sposta_categoria spesa 1``, confirmed: shown at `position` (1 = first) among the active ones."""

    slug: str
    position: int
    at: datetime


@dataclass(frozen=True, slots=True)
class CategoryDisabled:
    """``/disattiva_categoria spesa``, confirmed: the intake stops offering it; needs keep it."""

    slug: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CooperativeSaved:
    """``/nuova_cooperativa`` or ``/modifica_cooperativa``, confirmed: the fields that are not None are written.

    `territory` holds (kind, code) pairs as in `cooperative_territory`, e.g. ``(("comune", "039014"),)``.
    """

    slug: str
    is_new: bool
    at: datetime
    name: str | None = None
    territory: tuple[tuple[str, str], ...] | None = None
    categories: tuple[str, ...] | None = None
    digest_cron: str | None = None
    timezone: str | None = None
    """IANA name the digest cron is read in, e.g. ``"Europe/Rome"``."""
    language: str | None = None
    """Language of the cooperative's digest, ``"it"`` or ``"en"``."""


@dataclass(frozen=True, slots=True)
class CooperativeDeactivated:
    """``/disattiva_cooperativa cantiere``, confirmed: no more routing or digests; history kept."""

    slug: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DigestRequested:
    """``/digest_ora cantiere``: the digest of the last 7 days, sent after the turn commits."""

    cooperative_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class VoiceNoteQueued:
    """A voice note to transcribe after the commit (`bot/voice.py`), sent at question `step`."""

    ref: str
    content_type: str | None
    step: str | None
    at: datetime


Effect = (
    ConsentGiven
    | VoiceNoteQueued
    | ConsentRefused
    | CooperativeSaved
    | CooperativeDeactivated
    | NeedCreated
    | ConversationCancelled
    | ConversationExpired
    | HelpOffered
    | OptedOut
    | OptedIn
    | CommandRefused
    | OperatorEnrolled
    | InviteRefused
    | NeedClaimed
    | NeedDeclined
    | StatusChanged
    | NoteAdded
    | NeedAssigned
    | NeedReopened
    | NeedTransferred
    | FollowUpAnswered
    | SatisfactionGiven
    | RightsExercised
    | LanguageChanged
    | BroadcastsRefused
    | BroadcastsAccepted
    | DataErasureRequested
    | StaffCommandUsed
    | RoleGranted
    | RoleRevoked
    | OperatorRevoked
    | InviteCreated
    | ExportRequested
    | BroadcastRequested
    | CategoryAdded
    | CategoryRenamed
    | CategorySynonymsSet
    | CategoryMoved
    | CategoryDisabled
    | DigestRequested
    | CooperativeWrote
    | CitizenWrote
    | ThreadOpened
    | ThreadClosed
    | WaitingShown
    | NeedWithdrawn
)
