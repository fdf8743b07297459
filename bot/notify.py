"""The one writer of outbox rows: every message, reply or notification, rendered for its recipient and queued."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import Reply, Translator, traits_of
from handlers import render_numbered, split_text, text_limit
from storage import citizens, needs, operators, outbox, staff
from storage.models import Citizen, Operator

logger = logging.getLogger(__name__)

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


def rows_for(
    translator: Translator,
    *,
    to: Recipient,
    reply: Reply,
    now: datetime,
    conversation_version: int | None = None,
    attachment: Attachment | None = None,
    purge_recipient: bool = False,
    need_id: str | None = None,
) -> list[dict[str, object]]:
    """The outbox rows of one reply: rendered in the recipient's language, split to the channel's limit.

    A reply to the recipient's own message (`conversation_version` given) keeps its options on
    every channel, drawn as a numbered list where there are no buttons; a message nobody's
    inbound triggered keeps them only where they are buttons. `need_id`: the need the message is
    about, so a Telegram reply to it finds the need (`storage/threads.replied_to`).
    """
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
    # Text-only channels append the options as a numbered list: keep room for it.
    room = max(MIN_PART_CHARS, text_limit(to.channel) - len(render_numbered("", options, hint)) - 2)
    parts = split_text(rendered.text, room)
    rows: list[dict[str, object]] = []
    for index, part in enumerate(parts):
        is_last = index == len(parts) - 1
        row = outbox.row(
            channel=to.channel,
            recipient=to.external_id,
            citizen_id=to.citizen_id,
            text=part,
            options=options if is_last else (),
            number_hint=hint if is_last else "",
            conversation_version=conversation_version,
            now=now,
            purge_recipient=purge_recipient,
            need_id=need_id,
        )
        if is_last and attachment is not None:
            row.update(attachment_path=attachment.path, attachment_type=attachment.content_type)
        rows.append(row)
    return rows


async def enqueue(
    session: AsyncSession,
    translator: Translator,
    *,
    to: Recipient,
    reply: Reply,
    now: datetime,
    conversation_version: int | None = None,
    attachment: Attachment | None = None,
    need_id: str | None = None,
) -> int:
    """Queue a message nobody's inbound triggered (notifications, follow-ups, digests); returns rows written.

    `conversation_version`: the message asks a question of the conversation at that version
    (a follow-up), so its options are kept as for a reply.

    A recipient given by chat identity alone (the admins of `[admin]`) is written to through
    the citizen row of that identity when there is one (`_with_citizen_row`).
    """
    to = await _with_citizen_row(session, to)
    rows = rows_for(
        translator, to=to, reply=reply, now=now, conversation_version=conversation_version, attachment=attachment, need_id=need_id
    )
    await outbox.enqueue_many(session, rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Admins:
    """The admins of `[admin]`; `Notifier.tell_admins` adds those granted from the chat (`staff_role`)."""

    recipients: tuple[Recipient, ...] = ()


class Notifier:
    """Who to tell about a change, and in which words: staff alerts, the citizen behind a need."""

    def __init__(self, translator: Translator, admins: Admins = Admins()) -> None:
        self.translator = translator
        self.admins = admins

    async def tell(
        self, session: AsyncSession, to: Recipient, reply: Reply, now: datetime, attachment: Attachment | None = None, *, need_id: str | None = None
    ) -> int:
        return await enqueue(session, self.translator, to=to, reply=reply, now=now, attachment=attachment, need_id=need_id)

    async def tell_citizen_of(self, session: AsyncSession, need_id: str, reply: Reply, now: datetime, *, about: bool = False) -> None:
        """The citizen behind a need, unless their data was erased; `about`: a Telegram reply to it finds the need."""
        citizen = await needs.citizen_of(session, need_id=need_id)
        if citizen is not None:
            await self.tell(session, Recipient.of_citizen(citizen), reply, now, need_id=need_id if about else None)

    async def tell_operators(
        self,
        session: AsyncSession,
        cooperative_ids: Sequence[int],
        reply: Callable[[Operator], Reply],
        now: datetime,
        *,
        but: int | None = None,
        need_id: str | None = None,
    ) -> None:
        """Each active operator of these cooperatives, in their own language (`reply` is built per operator);
        `need_id`: the need the message is about, so replying to it on Telegram writes to that need's citizen."""
        for op in await operators.of_cooperatives(session, cooperative_ids=cooperative_ids):
            if op.id != but:
                await self.tell(session, Recipient.of_operator(op), reply(op), now, need_id=need_id)

    async def has_admins(self, session: AsyncSession) -> bool:
        """Someone to tell about needs nobody covers: checked once at start (`ascolto run`, `ascolto chat`)."""
        return bool(self.admins.recipients) or bool(await staff.granted_admins(session))

    async def tell_admins(self, session: AsyncSession, reply: Reply, now: datetime) -> None:
        """Unrouted needs and escalations: the admins of `[admin]` and those granted from the chat, once each.

        They are named by chat identity; `enqueue` finds each one's citizen row (language, and on
        WhatsApp the 24-hour window, without which the alert would be held).
        """
        recipients = list(self.admins.recipients)
        seen = {(r.channel, r.external_id) for r in recipients}
        for row in await staff.granted_admins(session):
            if (row.channel, row.external_id) not in seen:
                seen.add((row.channel, row.external_id))
                recipients.append(Recipient(row.channel, row.external_id))
        if not recipients:  # said once at start (`has_admins`), not at every need
            logger.debug("no admins to tell")
        for admin in recipients:
            await self.tell(session, admin, reply, now)
