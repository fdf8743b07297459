"""Alerts to staff on WhatsApp, end to end: the 24-hour window is the admin's or operator's own.

Messages we start on WhatsApp go as free text only within 24 hours of the recipient's last
message, which the dispatcher reads from the recipient's citizen row. The admins of `[admin]` are
configured by number, not by row: their alerts (a need no cooperative covers, a need every
cooperative declined, an urgent need nobody claimed) must still find the row of the number, or
an admin who wrote a minute ago is treated as one who never did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config import AdminSettings
from bot.jobs.followups import remind_unclaimed
from bot.notify import Recipient, enqueue
from conversations import notifications
from storage import operators
from storage.db import transaction
from storage.models import Citizen, Need, OutboxMessage
from tests.bot.channels.test_whatsapp import BY_WORDS, WINDOW_TEMPLATE, Rig, rig_for
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

ADMIN = "+393330000009"
OPERATOR = "+393330000010"
CITIZENS = ("+393331000001", "+393331000002")
UNROUTED = "Nessuna cooperativa copre la richiesta"
DECLINED = "Tutte le cooperative hanno risposto"
ESCALATED = "nessuno ha preso in carico la richiesta urgente"
ROUTED = "Nuova richiesta"


@pytest.fixture
async def rig(db_url: str, clock: FakeClock) -> AsyncIterator[Rig]:
    """No window template: a message outside the window can only be held, so "held" is visible."""
    async with rig_for(db_url, clock, admin=AdminSettings(whatsapp_numbers=[ADMIN])) as built:
        yield built


async def says(rig: Rig, number: str, body: str) -> None:
    assert (await rig.write(body, sender=number)).status_code == 200


async def submit_need(rig: Rig, number: str) -> str:
    """A whole intake over WhatsApp (spesa, Ravenna, urgent); returns the ticket."""
    for text in BY_WORDS:
        await says(rig, number, text)
    async with rig.core.sessions() as session:
        query = select(col(Need.ticket)).join(Citizen, col(Citizen.id) == col(Need.citizen_id)).where(col(Citizen.external_id) == number)
        return str((await session.execute(query)).scalar_one())


def free_texts_to(rig: Rig, number: str) -> list[str]:
    """What reached the number as a session (free-text) message, not as a template."""
    return [m["body"] or "" for m in rig.fake.messages_to(number) if m["content_sid"] is None]


async def rows_to(rig: Rig, number: str, text: str) -> list[OutboxMessage]:
    async with rig.core.sessions() as session:
        query = select(OutboxMessage).where(col(OutboxMessage.recipient) == number, col(OutboxMessage.text).contains(text))
        return list((await session.execute(query)).scalars())


async def add_cantiere(rig: Rig) -> int:
    return await add_coop(rig.core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")


async def the_escalation(rig: Rig) -> OutboxMessage:
    [row] = await rows_to(rig, ADMIN, ESCALATED)
    return row


async def escalate(rig: Rig) -> str:
    """An urgent need routed to the cooperative and unclaimed past reminder + escalation hours; returns its ticket."""
    coop = await add_cantiere(rig)
    need = await add_need(rig.core, cooperative_ids=(coop,), urgency="alta", at=rig.clock.now - timedelta(hours=12))
    assert await remind_unclaimed(rig.core, rig.clock.now) == 2  # the operators' reminder, then the admins' alert
    await rig.dispatcher.flush()
    return need.ticket


async def test_an_admin_who_wrote_recently_gets_every_alert_as_free_text(rig: Rig) -> None:
    await says(rig, ADMIN, "ciao")

    # 1. A need no cooperative covers.
    ticket = await submit_need(rig, CITIZENS[0])
    assert any(UNROUTED in t and ticket in t for t in free_texts_to(rig, ADMIN))

    # 2. A need every cooperative declined; on the way, the operator (enrolled over WhatsApp) is told as free text.
    coop = await add_cantiere(rig)
    async with transaction(rig.core.sessions) as session:
        now = rig.clock.now
        await operators.create_invite(session, cooperative_id=coop, code="K7MR4PXA", expires_at=now + timedelta(days=7), now=now)
    await says(rig, OPERATOR, "/operatore K7MR-4PXA")
    ticket = await submit_need(rig, CITIZENS[1])
    assert any(ROUTED in t and ticket in t for t in free_texts_to(rig, OPERATOR))
    await says(rig, OPERATOR, f"/declino {ticket}")
    assert any(DECLINED in t and ticket in t for t in free_texts_to(rig, ADMIN))

    # 3. An urgent need nobody claimed in time.
    ticket = await escalate(rig)
    assert any(ESCALATED in t and ticket in t for t in free_texts_to(rig, ADMIN))

    alerts = [row for text in (UNROUTED, DECLINED, ESCALATED) for row in await rows_to(rig, ADMIN, text)]
    assert len(alerts) == 3 and {row.status for row in alerts} == {"sent"}
    assert all(row.citizen_id is not None for row in alerts), "through the admin's citizen row"


async def test_an_admin_whose_last_message_is_a_day_old_is_held(rig: Rig) -> None:
    await says(rig, ADMIN, "ciao")
    rig.clock.advance(hours=25)
    await escalate(rig)
    row = await the_escalation(rig)
    assert row.status == "held" and "24-hour window" in (row.last_error or "")
    assert not any(ESCALATED in t for t in free_texts_to(rig, ADMIN))
    # Writing again reopens the window for what comes next.
    await says(rig, ADMIN, "ciao")
    await escalate(rig)
    assert any(ESCALATED in t for t in free_texts_to(rig, ADMIN))


async def test_an_admin_who_wrote_stop_is_not_alerted(rig: Rig) -> None:
    """Their row carries the opt-out too: like any citizen, we start nothing until they write START."""
    await says(rig, ADMIN, "ciao")
    await says(rig, ADMIN, "STOP")
    await escalate(rig)
    row = await the_escalation(rig)
    assert row.status == "failed" and "opted out" in (row.last_error or "")
    assert not any(ESCALATED in t for t in free_texts_to(rig, ADMIN))


async def test_an_admin_who_never_wrote_is_held_and_flagged(rig: Rig) -> None:
    await escalate(rig)
    row = await the_escalation(rig)
    assert row.status == "held" and row.citizen_id is None
    assert rig.fake.messages_to(ADMIN) == []
    health = await rig.http.get(rig.base_url + "/healthz")
    assert health.json()["outbox_held"] == 1


async def test_an_admin_who_never_wrote_gets_the_window_template_when_there_is_one(db_url: str, clock: FakeClock) -> None:
    admin = AdminSettings(whatsapp_numbers=[ADMIN])
    async with rig_for(db_url, clock, admin=admin, window_template_sid=WINDOW_TEMPLATE) as rig:
        ticket = await escalate(rig)
        [sent] = rig.fake.messages_to(ADMIN)
        assert sent["content_sid"] == WINDOW_TEMPLATE and ticket in (sent["content_variables"] or {}).get("1", "")
        assert (await the_escalation(rig)).status == "sent"


async def test_a_message_we_start_to_a_bare_identity_goes_through_its_citizen_row(rig: Rig) -> None:
    """`notify.enqueue` finds the row (id, language) of an identity given without one; none, none."""
    await says(rig, ADMIN, "ciao")
    await says(rig, ADMIN, "/lingua en")
    reply = notifications.need_unrouted(ticket="K7M-R4P", category="Spesa", comune="Ravenna", urgency="alta")
    async with transaction(rig.core.sessions) as session:
        admin = (await session.execute(select(Citizen).where(col(Citizen.external_id) == ADMIN))).scalar_one()
        await enqueue(session, rig.core.translator, to=Recipient("whatsapp", ADMIN), reply=reply, now=rig.clock.now)
        await enqueue(session, rig.core.translator, to=Recipient("whatsapp", OPERATOR), reply=reply, now=rig.clock.now)
    [to_admin] = await rows_to(rig, ADMIN, "K7M-R4P")
    [to_stranger] = await rows_to(rig, OPERATOR, "K7M-R4P")
    assert to_admin.citizen_id == admin.id and to_admin.text.startswith("No cooperative covers")
    assert to_stranger.citizen_id is None and to_stranger.text.startswith(UNROUTED)
