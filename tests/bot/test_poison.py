"""No message may poison the service (issue 13): whatever a turn meets, the citizen is answered and the channel moves on."""

from __future__ import annotations

from sqlalchemy import select

from bot.core import Core
from conversations import Inbound, Media, MediaKind
from storage.models import Need, NeedAttachment
from tests.helpers.clock import FakeClock

AFTER_A_DOCUMENT = ("1", "5", "Spesa per mia madre", "Ravenna", "1", "1", "1")
"""Consent, category, description, comune, urgency, contact, confirm: the intake a document starts."""


async def test_a_document_with_a_mime_type_longer_than_its_column_keeps_the_need(core: Core, clock: FakeClock) -> None:
    """Telegram passes a document's MIME type as the client declared it: 120 characters made every
    confirmation fail on PostgreSQL (varchar(100)), and a file over 2 GiB overflows the size column."""
    mime = "application/" + "x" * 120
    document = Media(MediaKind.DOCUMENT, "BQACAgQAAxkBAAIB", mime, 3 * 2**30)
    await core.pipeline.handle(Inbound("test", "doc", "anna", clock.now, media=(document,)))
    for i, text in enumerate(AFTER_A_DOCUMENT):
        clock.advance(seconds=5)
        await core.pipeline.handle(Inbound("test", f"t{i}", "anna", clock.now, text=text))
    async with core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
        [attachment] = (await session.execute(select(NeedAttachment))).scalars().all()
    assert need.description == "Spesa per mia madre"
    assert (attachment.kind, attachment.ref) == ("document", "BQACAgQAAxkBAAIB")
    assert attachment.content_type is None and attachment.size is None  # unknown rather than wrong
