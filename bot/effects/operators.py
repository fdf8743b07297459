"""Operators joining with an invite, and commands tried by someone who may not use them."""

from __future__ import annotations

import logging
from typing import Any

from bot.effects.base import Applying, Conflict, Handler
from conversations import CommandRefused, InviteRefused, OperatorEnrolled
from storage.audit import AuditAction
from storage import audit, operators

logger = logging.getLogger(__name__)


def handlers() -> tuple[Handler[Any], ...]:
    return (Handler(OperatorEnrolled, enrolled), Handler(CommandRefused, refused), Handler(InviteRefused, invite_refused))


async def enrolled(a: Applying, effect: OperatorEnrolled) -> None:
    citizen = a.citizen
    op = await operators.enrol(
        a.session,
        cooperative_id=effect.cooperative_id,
        channel=citizen.channel,
        external_id=citizen.external_id,
        citizen_id=citizen.id,
        role=effect.role,
        language=citizen.language,
        now=effect.at,
    )
    assert op.id is not None
    if not await operators.use_invite(a.session, code=effect.invite_code, operator_id=op.id, now=effect.at):
        raise Conflict("invite used meanwhile")
    await audit.record(a.session, actor=f"operator:{op.id}", action=AuditAction.OPERATOR_ENROLLED, cooperative_id=effect.cooperative_id, at=effect.at)
    logger.info("operator %s enrolled in cooperative %s", op.id, effect.cooperative_id)


async def refused(a: Applying, effect: CommandRefused) -> None:
    logger.warning("citizen %s tried command %s", a.citizen_id, effect.command)
    await audit.record(a.session, actor=f"citizen:{a.citizen_id}", action=AuditAction.COMMAND_REFUSED, detail=effect.command, at=a.now)


async def invite_refused(a: Applying, effect: InviteRefused) -> None:
    """Every refused code is a row: `bot/reads/desk.invite` counts them to lock a guesser out."""
    logger.warning("citizen %s: invite code refused (%s)", a.citizen_id, effect.reason)
    await audit.record(a.session, actor=f"citizen:{a.citizen_id}", action=AuditAction.INVITE_REFUSED, detail=effect.reason, at=effect.at)
