"""Issue 15: nobody but the cooperative holding a need reads its thread or the citizen's phone — a matrix
over who asks (holder, another cooperative, an admin, another citizen) and how, also after the need
changes hands (docs/privacy.md, "A need's thread")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.core import Core
from bot.exports import header
from storage import exports, staff
from storage.db import transaction
from storage.models import Need, OutboxMessage
from tests.bot.test_threads import say
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator

PHONE = "3331234567"
INTAKE = ("ciao", "1", "1", "5", "Mi servono zucchine e pomodori", "Ravenna", "1", "2", PHONE, "1", "1")
"""A request with a phone to call (tests/bot/test_rights.py)."""
FROM_COOP = "Passiamo alle 10, citofono Bianchi"
FROM_CITIZEN = "Il portone verde in via Dante 12"
SECRETS = (FROM_COOP, FROM_CITIZEN, "via Dante", PHONE)


async def to(core: Core, recipient: str) -> str:
    async with core.sessions() as session:
        rows = await session.execute(select(OutboxMessage.text).where(OutboxMessage.recipient == recipient))
        return "\n".join(rows.scalars())


async def a_thread(core: Core, clock: FakeClock) -> tuple[str, int]:
    """Anna's request with a phone, held by Il Cantiere (Lucia), offered to Altra Coop (Sara); one message each way."""
    cantiere = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    altra = await add_coop(core, "altra", province=("RA",), name="Altra Coop")
    await add_operator(core, cantiere, "lucia")
    await add_operator(core, altra, "sara")
    async with transaction(core.sessions) as session:
        await staff.grant_admin(session, channel="test", external_id="boss", by="test", now=clock.now)
    for text in INTAKE:
        await say(core, "anna", text)
    async with core.sessions() as session:
        t = (await session.execute(select(Need.ticket))).scalar_one()
    await say(core, "lucia", f"/prendo {t}")
    await say(core, "lucia", f"/scrivi {t} {FROM_COOP}")
    await say(core, "anna", FROM_CITIZEN)
    return t, altra


ATTEMPTS = ("/richiesta {t}", "/scrivi {t} Mi dà il suo numero?", "{t}", "/ritira {t}", "/richieste", "/miei")


@pytest.mark.parametrize("who", ["sara", "boss", "bruno"])
async def test_no_one_but_the_holder_reads_the_thread_or_the_phone(core: Core, clock: FakeClock, who: str) -> None:
    """Another cooperative's operator, an admin, another citizen: whatever they type, neither the thread nor
    the phone reaches them, and nothing they type reaches Anna or the holder."""
    t, _ = await a_thread(core, clock)
    holder = await to(core, "lucia")
    assert FROM_CITIZEN in holder and PHONE in holder  # the holder has both
    anna_before, lucia_before = await to(core, "anna"), await to(core, "lucia")
    for attempt in ATTEMPTS:
        await say(core, who, attempt.format(t=t))
        await say(core, who, "sì")  # confirming whatever was asked
    theirs = await to(core, who)
    assert not [s for s in SECRETS if s in theirs], theirs
    assert await to(core, "anna") == anna_before and await to(core, "lucia") == lucia_before


async def test_the_holder_reads_the_thread_with_the_need(core: Core, clock: FakeClock) -> None:
    t, _ = await a_thread(core, clock)
    await say(core, "lucia", f"/richiesta {t}")
    async with core.sessions() as session:
        last = (await session.execute(select(OutboxMessage.text).where(OutboxMessage.recipient == "lucia").order_by(OutboxMessage.id.desc()))).scalars().first()  # type: ignore[union-attr]
    assert last is not None and FROM_COOP in last and FROM_CITIZEN in last


async def test_when_the_need_changes_hands_the_old_cooperative_loses_the_thread(core: Core, clock: FakeClock) -> None:
    """Access is computed from the need's current holder (`storage.threads.holder_of`), never from a copy:
    after a transfer (issue 15 part 4) the new cooperative takes part and the old one hears an unknown ticket."""
    t, altra = await a_thread(core, clock)
    async with transaction(core.sessions) as session:
        await session.execute(update(Need).values(claimed_by_cooperative_id=altra))
    before = await to(core, "lucia")
    await say(core, "lucia", f"/scrivi {t} Ancora noi")
    assert (await to(core, "lucia"))[len(before) :].strip() == f"Non trovo la richiesta {t} tra quelle della tua cooperativa."
    await say(core, "sara", f"/richiesta {t}")
    assert FROM_CITIZEN in await to(core, "sara") and PHONE in await to(core, "sara")
    await say(core, "anna", "Grazie a tutti")  # the open conversation now reaches the holder of today
    assert "Grazie a tutti" in await to(core, "sara") and "Grazie a tutti" not in await to(core, "lucia")


async def test_an_export_counts_the_messages_and_shows_none(core: Core, clock: FakeClock) -> None:
    """Admins may learn that a thread exists (its size, in `/esporta`), never what it says."""
    await a_thread(core, clock)
    async with core.sessions() as session:
        lines = await exports.rows(
            session, since=clock.now - timedelta(days=1), until=clock.now + timedelta(days=1), include_personal=True, cooperative_id=None
        )
    assert len(lines) == 1
    line = dict(zip(header(True), lines[0], strict=True))
    assert line["messages"] == 2
    assert not [s for s in (FROM_COOP, FROM_CITIZEN) if s in repr(lines)]
