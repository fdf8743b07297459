"""Persistence: models, the async engine, repositories and migrations."""

from __future__ import annotations

from storage import citizens, conversations, inbound, needs, outbox, reference
from storage.db import create_engine, is_sqlite, session_factory, transaction

__all__ = [
    "citizens",
    "conversations",
    "create_engine",
    "inbound",
    "is_sqlite",
    "needs",
    "outbox",
    "reference",
    "session_factory",
    "transaction",
]
