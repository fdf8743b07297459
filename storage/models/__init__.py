"""The SQLModel tables, one module per aggregate."""

from __future__ import annotations

from storage.models.assignment import AssignmentStatus, NeedAssignment, NeedNote
from storage.models.audit_log import AuditLog
from storage.models.category import Category
from storage.models.citizen import Citizen
from storage.models.comune import ComuneRow
from storage.models.conversation import Conversation
from storage.models.cooperative import Cooperative, CooperativeCategory, CooperativeTerritory, TerritoryKind
from storage.models.digest_run import DigestRun
from storage.models.follow_up import FollowUp, FollowUpKind
from storage.models.inbound import InboundEvent
from storage.models.need import FetchStatus, Need, NeedAttachment, NeedStatus, NeedStatusChange
from storage.models.operator import Invite, Operator, OperatorRole
from storage.models.outbox import OutboxMessage, OutboxStatus
from storage.models.staff import Broadcast, StaffRole, StaffRoleName

__all__ = [
    "AssignmentStatus",
    "AuditLog",
    "Broadcast",
    "Category",
    "Citizen",
    "ComuneRow",
    "Conversation",
    "Cooperative",
    "CooperativeCategory",
    "CooperativeTerritory",
    "DigestRun",
    "FetchStatus",
    "FollowUp",
    "FollowUpKind",
    "InboundEvent",
    "Invite",
    "Need",
    "NeedAssignment",
    "NeedAttachment",
    "NeedNote",
    "NeedStatus",
    "NeedStatusChange",
    "Operator",
    "OperatorRole",
    "OutboxMessage",
    "OutboxStatus",
    "StaffRole",
    "StaffRoleName",
    "TerritoryKind",
]
