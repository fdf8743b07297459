"""The SQLModel tables, one module per aggregate; the words in their columns are `conversations.vocabulary`'s."""

from __future__ import annotations

from storage.models._columns import as_loaded, defaults_of
from storage.models.assignment import NeedAssignment, NeedNote
from storage.models.audit_log import AuditLog
from storage.models.category import Category
from storage.models.citizen import Citizen
from storage.models.comune import ComuneRow
from storage.models.conversation import Conversation
from storage.models.cooperative import Cooperative, CooperativeCategory, CooperativeTerritory
from storage.models.demand import DEMAND_DURATION, DemandMonth, DemandRefresh
from storage.models.deferred import DeferredInbound
from storage.models.digest_run import DigestRun
from storage.models.follow_up import FollowUp
from storage.models.inbound import DeadLetter, InboundEvent
from storage.models.need import FetchStatus, Need, NeedAttachment, NeedStatusChange
from storage.models.operator import Invite, Operator
from storage.models.outbox import OutboxMessage, OutboxStatus
from storage.models.staff import Broadcast, StaffRole
from storage.models.thread import Direction, NeedMessage
from storage.models.voice import VoiceNote

__all__ = [
    "AuditLog",
    "Broadcast",
    "Category",
    "Citizen",
    "ComuneRow",
    "Conversation",
    "Cooperative",
    "CooperativeCategory",
    "CooperativeTerritory",
    "DEMAND_DURATION",
    "DeadLetter",
    "DeferredInbound",
    "DemandMonth",
    "DemandRefresh",
    "DigestRun",
    "Direction",
    "FetchStatus",
    "FollowUp",
    "InboundEvent",
    "Invite",
    "Need",
    "NeedAssignment",
    "NeedAttachment",
    "NeedMessage",
    "NeedNote",
    "NeedStatusChange",
    "Operator",
    "OutboxMessage",
    "OutboxStatus",
    "StaffRole",
    "VoiceNote",
    "as_loaded",
    "defaults_of",
]
