"""Who is writing: admin, operator or citizen, read in the turn's transaction.

One place answers it for the data a command reads (`bot.reads`) and for the role an effect
requires (`bot.effects`), so the rule cannot drift between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import OperatorView, Role
from storage import operators, staff


@dataclass(frozen=True, slots=True)
class Sender:
    """The sender's role; `operator` is set for an enrolled, active operator (an admin can be one too)."""

    role: Role = Role.CITIZEN
    operator: OperatorView | None = None
    language: str = "it"

    @property
    def cooperative_id(self) -> int | None:
        """The operator's cooperative, when the role is operator (exports are limited to it)."""
        return self.operator.cooperative_id if self.role == Role.OPERATOR and self.operator else None


class Roles:
    """Admins come from `[admin]` (never revocable from the chat) and from grants; operators from their row."""

    def __init__(self, admins: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.admins = admins

    async def of(self, session: AsyncSession, *, channel: str, external_id: str) -> Sender:
        found = await operators.by_identity(session, channel=channel, external_id=external_id)
        view = None
        language = "it"
        if found is not None:
            op, coop = found
            assert op.id is not None and coop.id is not None
            view = OperatorView(id=op.id, cooperative_id=coop.id, cooperative_name=coop.name, role=op.role)
            language = op.language
        if (channel, external_id) in self.admins or await staff.is_granted_admin(
            session, channel=channel, external_id=external_id
        ):
            return Sender(Role.ADMIN, view, language)
        return Sender(Role.OPERATOR if view else Role.CITIZEN, view, language)
