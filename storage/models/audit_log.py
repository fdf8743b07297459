"""Who did what to which record, and when: ids only, never message bodies."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(index=True)
    actor: str = Field(max_length=64)
    """``"operator:3"``, ``"citizen:12"``, ``"system"`` or ``"cli"``."""
    action: str = Field(max_length=40)
    """A verb in snake case: ``need_claimed``, ``status_changed``, ``command_refused``."""
    need_id: str | None = Field(default=None, max_length=32, index=True)
    cooperative_id: int | None = None
    operator_id: int | None = None
    detail: str | None = Field(default=None, max_length=120)
    """A code, never free text: the new status, the command name."""
