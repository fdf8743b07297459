"""The SQLModel tables, one module per aggregate."""

from __future__ import annotations

from storage.models.category import Category
from storage.models.citizen import Citizen
from storage.models.comune import ComuneRow
from storage.models.conversation import Conversation
from storage.models.inbound import InboundEvent
from storage.models.need import Need, NeedAttachment, NeedStatus, NeedStatusChange
from storage.models.outbox import OutboxMessage, OutboxStatus

__all__ = [
    "Category",
    "Citizen",
    "ComuneRow",
    "Conversation",
    "InboundEvent",
    "Need",
    "NeedAttachment",
    "NeedStatus",
    "NeedStatusChange",
    "OutboxMessage",
    "OutboxStatus",
]
