"""Persistence: models, the async engine, repositories and migrations."""

from __future__ import annotations

from storage import (
    categories,
    citizens,
    conversations,
    cooperatives,
    delivery,
    digests,
    followups,
    handover,
    inbound,
    media,
    needs,
    operators,
    outbox,
    reference,
    routing,
    threads,
)
from storage.db import create_engine, is_sqlite, session_factory, transaction

__all__ = [
    "categories",
    "citizens",
    "conversations",
    "cooperatives",
    "create_engine",
    "delivery",
    "digests",
    "followups",
    "handover",
    "inbound",
    "is_sqlite",
    "media",
    "needs",
    "operators",
    "outbox",
    "reference",
    "routing",
    "session_factory",
    "threads",
    "transaction",
]
