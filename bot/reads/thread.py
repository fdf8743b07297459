"""What a citizen's turn knows of their needs' threads: the conversation they have open, the cooperative
messages held for them, and what a Telegram reply points at (for an operator: `/scrivi` to that need)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import Call, Context, Engine, Inbound, WaitingMessage, reply_call
from storage import threads
from storage.models import Citizen


async def load(session: AsyncSession, engine: Engine, event: Inbound, citizen: Citizen, ctx: Context, call: Call | None) -> tuple[Context, Call | None]:
    """The thread fields of `ctx`, and the call a reply makes. Reads nothing for an ordinary message:
    the open conversation and the count of held messages are columns of the citizen row."""
    ctx = replace(ctx, thread_need_id=citizen.thread_need_id, thread_until=citizen.thread_until)
    if citizen.waiting_messages > 0 and citizen.id is not None:
        held = await threads.waiting_for(session, citizen_id=citizen.id)
        ctx = replace(ctx, waiting=tuple(WaitingMessage(w.id, w.need_id, w.ticket, w.cooperative, w.body) for w in held))
    if event.reply_to is None or call is not None:
        return ctx, call
    found = await threads.replied_to(session, channel=event.channel, recipient=event.sender, provider_message_id=event.reply_to)
    if found is None:
        return ctx, call
    need_id, ticket, owner = found
    if owner is not None and owner == citizen.id:
        return replace(ctx, replied_need_id=need_id), call
    # Sent to this chat about someone else's need: an operator answering an alert or a citizen's
    # message. The engine makes it `/scrivi`; its guard and the holder check decide as for the typed command.
    return ctx, reply_call(engine, event, ticket)
