"""Messages nobody's inbound triggered (notifications, follow-ups, digests): rendered for the recipient, queued in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import Reply, Translator, traits_of
from handlers import render_numbered, split_text, text_limit
from storage import citizens, outbox
from storage.models import Citizen, Operator

MIN_PART_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a message goes: a chat identity and the language to write in."""

    channel: str
    external_id: str
    language: str = "it"
    citizen_id: int | None = None

    @classmethod
    def of_citizen(cls, citizen: Citizen) -> Recipient:
        return cls(citizen.channel, citizen.external_id, citizen.language, citizen.id)

    @classmethod
    def of_operator(cls, operator: Operator) -> Recipient:
        return cls(operator.channel, operator.external_id, operator.language, operator.citizen_id)


async def _with_citizen_row(session: AsyncSession, to: Recipient) -> Recipient:
    """`to` with the id and language of its identity's citizen row, when it has no id and the row exists.

    The dispatcher reads opt-out and, on WhatsApp, the 24-hour window from that row: a message
    without it counts as outside the window, so an alert to an admin who wrote a minute ago
    would be held (or sent as the template).
    """
    if to.citizen_id is not None:
        return to
    found = await citizens.by_identity(session, channel=to.channel, external_id=to.external_id)
    return Recipient.of_citizen(found) if found is not None else to


@dataclass(frozen=True, slots=True)
class Attachment:
    path: str
    content_type: str = "image/png"


async def enqueue(
    session: AsyncSession,
    translator: Translator,
    *,
    to: Recipient,
    reply: Reply,
    now: datetime,
    conversation_version: int | None = None,
    attachment: Attachment | None = None,
) -> int:
    """Render `reply` in the recipient's language and queue it (split to the channel's limit); returns rows written.

    A recipient given by chat identity alone (the admins of `[admin]`) is written to through
    the citizen row of that identity when there is one (`_with_citizen_row`).
    """
    to = await _with_citizen_row(session, to)
    rendered = translator.render(reply, to.language)
    traits = traits_of(to.channel)
    if attachment is not None and not traits.shows_files:
        # The console prints text only: show where the file is.
        rendered = replace(rendered, text=f"{rendered.text}\n\n[{attachment.content_type}: {attachment.path}]")
    options = tuple((o.payload, o.label) for o in rendered.options)
    hint = rendered.number_hint
    if not traits.buttons and conversation_version is None:
        # Without buttons a notification's text already says what to type, and a numbered
        # list would be answered against the recipient's current question instead.
        options, hint = (), ""
    limit = text_limit(to.channel)
    room = max(MIN_PART_CHARS, limit - len(render_numbered("", options, hint)) - 2)
    parts = split_text(rendered.text, room)
    for index, part in enumerate(parts):
        is_last = index == len(parts) - 1
        row = await outbox.enqueue(
            session,
            channel=to.channel,
            recipient=to.external_id,
            citizen_id=to.citizen_id,
            text=part,
            options=options if is_last else (),
            number_hint=hint if is_last else "",
            conversation_version=conversation_version,
            now=now,
        )
        if is_last and attachment is not None:
            row.attachment_path = attachment.path
            row.attachment_type = attachment.content_type
    return len(parts)
