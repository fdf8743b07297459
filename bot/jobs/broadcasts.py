"""The broadcast job: tell each admin how their `/annuncio` went, once no row of it is pending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Services
from bot.notify import Recipient, enqueue
from conversations import Msg, Reply, Translator
from storage import staff
from storage.db import transaction


async def finish_broadcasts(core: Services, now: datetime) -> int:
    """Tell each admin whose `/annuncio` has no pending row left how it went."""
    async with transaction(core.sessions) as session:
        return await report_broadcasts(session, core.translator, now=now)


async def report_broadcasts(session: AsyncSession, translator: Translator, *, now: datetime) -> int:
    """Tell each admin whose broadcast has no pending row left how it went; returns reports sent.

    "Finished" means every row of the broadcast is sent, delivered, read, failed or held.
    """
    reported = 0
    for row in await staff.unreported_broadcasts(session):
        assert row.id is not None
        tally = await staff.broadcast_tally(session, broadcast_id=row.id)
        if tally.get("pending", 0):
            continue
        sent = tally.get("sent", 0) + tally.get("delivered", 0) + tally.get("read", 0)
        reply = Reply(
            Msg(
                "admin.broadcast_report",
                {"id": row.id, "sent": sent, "failed": tally.get("failed", 0), "held": tally.get("held", 0), "total": row.recipients},
            )
        )
        # `enqueue` writes through the admin's citizen row (language, WhatsApp's 24-hour window).
        await enqueue(session, translator, to=Recipient(row.requested_channel, row.requested_by), reply=reply, now=now)
        row.reported_at = now
        reported += 1
    return reported
