"""The audit trail: who did what to which record, as one of a closed list of actions (`AuditAction`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog


class AuditAction(StrEnum):
    """What an audit row records; the value is stored in `audit_log.action`, so renaming one is a migration."""

    # Needs, by operators, citizens and the scheduler
    NEED_UNROUTED = "need_unrouted"
    """No cooperative serves the need's comune and category: admins are told."""
    NEED_CLAIMED = "need_claimed"
    NEED_DECLINED = "need_declined"
    STATUS_CHANGED = "status_changed"
    NOTE_ADDED = "note_added"
    FOLLOW_UP_ANSWERED = "follow_up_answered"
    NEED_ASSIGNED = "need_assigned"
    """An admin gave the need to a cooperative (`/assegna`)."""
    NEED_ROUTED_LATER = "need_routed_later"
    """A cooperative created or widened received a need nobody covered."""
    NEED_REOPENED = "need_reopened"
    """`/riapri`, or the citizen said at the follow-up that it did not get resolved; the detail is the new status."""
    NEED_TRANSFERRED = "need_transferred"
    """`/trasferisci`: the row's cooperative is the one that receives it; the detail names the one that gave it."""
    THREAD_MESSAGE = "thread_message"
    """A message of a need's thread; the detail is its direction, never its words."""
    NEED_WITHDRAWN = "need_withdrawn"
    NEED_ESCALATED = "need_escalated"
    NEEDS_ANONYMISED = "needs_anonymised"
    """Retention ran: the detail is how many needs; `/stato_sistema` shows the last run."""
    PERSONAL_DATA_EXPIRED = "personal_data_expired"
    """Retention emptied other copies: ``messages=N conversations=N files=N``."""
    OPERATOR_ENROLLED = "operator_enrolled"
    INVITE_REFUSED = "invite_refused"
    """An `/operatore CODE` that enrolled nobody; the detail says why (unknown, used, expired, locked)."""
    COMMAND_REFUSED = "command_refused"

    # Citizens' data rights
    DATA_RIGHTS = "data_rights"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    """A no at the consent question after a yes: the consent is cleared."""
    DATA_ERASED = "data_erased"

    # Staff: reads, roles, invites
    STAFF_READ = "staff_read"
    ADMIN_GRANTED = "admin_granted"
    ADMIN_ALREADY = "admin_already"
    ADMIN_REVOKED = "admin_revoked"
    ADMIN_NOT_FOUND = "admin_not_found"
    OPERATOR_REVOKED = "operator_revoked"
    OPERATOR_NOT_FOUND = "operator_not_found"
    INVITE_CREATED = "invite_created"

    # Staff: categories
    CATEGORY_ADDED = "category_added"
    CATEGORY_EXISTS = "category_exists"
    CATEGORY_RENAMED = "category_renamed"
    CATEGORY_SYNONYMS = "category_synonyms"
    CATEGORY_MOVED = "category_moved"
    CATEGORY_DISABLED = "category_disabled"
    CATEGORY_NOT_FOUND = "category_not_found"

    # Staff: cooperatives and their digests
    COOPERATIVE_CREATED = "cooperative_created"
    COOPERATIVE_EXISTS = "cooperative_exists"
    COOPERATIVE_EDITED = "cooperative_edited"
    COOPERATIVE_UNCHANGED = "cooperative_unchanged"
    COOPERATIVE_DEACTIVATED = "cooperative_deactivated"
    COOPERATIVE_NOT_FOUND = "cooperative_not_found"
    DIGEST_REQUESTED = "digest_requested"

    # Staff: data leaving the system
    EXPORT = "export"
    BROADCAST = "broadcast"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: AuditAction,
    at: datetime,
    need_id: str | None = None,
    cooperative_id: int | None = None,
    operator_id: int | None = None,
    detail: str | None = None,
) -> None:
    """One audit row: ids and codes only, never a message body.

    `action` must be an `AuditAction` (a plain string is refused even when it spells one),
    so the list above stays the whole vocabulary of the trail.
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit action must be an AuditAction, not {action!r}")
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            at=at,
            need_id=need_id,
            cooperative_id=cooperative_id,
            operator_id=operator_id,
            detail=detail[:120] if detail else None,
        )
    )


async def was_recorded(session: AsyncSession, *, action: AuditAction, need_id: str) -> bool:
    """Whether the trail holds `action` for this need: a withdrawn need stays the citizen's choice."""
    found = await session.scalar(select(col(AuditLog.id)).where(col(AuditLog.action) == action, col(AuditLog.need_id) == need_id).limit(1))
    return found is not None
