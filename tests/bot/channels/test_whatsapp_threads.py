"""Issue 15 on WhatsApp (signed webhooks, the real twilio client, FakeTwilio): the thread inside the 24-hour
window, and outside it the approved template first, the cooperative's words once the citizen answers."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Need, NeedMessage
from tests.bot.channels.test_whatsapp import BY_NUMBERS, USER, WINDOW_TEMPLATE, Rig, rig  # noqa: F401 (fixture)
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.coops import RAVENNA, add_coop, add_operator

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

LUCIA = "+393471112223"
"""An operator of Il Cantiere, on WhatsApp."""
NOTICE = "C'è un messaggio per te dalla cooperativa: rispondi per leggerlo."


def bodies_to(rig: Rig, number: str) -> list[str]:
    return [m["body"] or "" for m in rig.fake.messages_to(number)]


async def a_held_need(rig: Rig) -> str:
    cantiere = await add_coop(rig.core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(rig.core, cantiere, LUCIA, channel="whatsapp")
    for text in BY_NUMBERS:
        await rig.write(text)
    async with rig.core.sessions() as session:
        ticket = (await session.execute(select(Need.ticket))).scalar_one()
    await rig.write(f"prendo {ticket}", sender=LUCIA)
    return ticket


async def test_inside_the_window_words_go_both_ways_as_session_messages(rig: Rig) -> None:
    t = await a_held_need(rig)
    await rig.write(f"scrivi {t} Buongiorno, passiamo domani alle 10", sender=LUCIA)  # the plain word works on WhatsApp
    told = rig.fake.messages_to(USER)[-1]
    assert told["content_sid"] is None and "Il Cantiere ti scrive" in (told["body"] or "") and "passiamo domani" in (told["body"] or "")
    await rig.write("Va bene, grazie")
    assert "Va bene, grazie" in bodies_to(rig, LUCIA)[-1] and t in bodies_to(rig, LUCIA)[-1]
    await rig.write("fine")
    assert "la conversazione con Il Cantiere è chiusa" in rig.bodies()[-1]


async def test_outside_the_window_the_template_goes_first_then_the_message_once_they_answer(rig: Rig) -> None:
    t = await a_held_need(rig)
    rig.clock.advance(hours=25)  # the citizen last wrote more than a day ago
    await rig.write(f"/scrivi {t} Passiamo domani alle 10", sender=LUCIA)
    await rig.write(f"/scrivi {t} Porti la tessera sanitaria", sender=LUCIA)
    sent = rig.fake.messages_to(USER)
    notices = [m for m in sent if m["content_sid"] == WINDOW_TEMPLATE]
    assert [m["content_variables"] for m in notices] == [{"1": NOTICE}]  # one notice for both messages
    assert not any("Passiamo domani" in (m["body"] or "") + str(m["content_variables"] or "") for m in sent)

    before = len(bodies_to(rig, LUCIA))
    await rig.write("ok")  # "rispondi per leggerlo": this answer opens the window and is not forwarded
    shown = rig.bodies()[-3:]
    assert "Passiamo domani alle 10" in shown[0] and "Porti la tessera sanitaria" in shown[1]
    assert "Per rispondere a Il Cantiere" in shown[2]
    assert len(bodies_to(rig, LUCIA)) == before

    await rig.write("A domani, grazie")
    assert "A domani, grazie" in bodies_to(rig, LUCIA)[-1]
    async with rig.core.sessions() as session:
        rows = (await session.execute(select(NeedMessage.body, NeedMessage.waiting).order_by(NeedMessage.id))).all()
    assert [tuple(r) for r in rows] == [
        ("Passiamo domani alle 10", False),
        ("Porti la tessera sanitaria", False),
        ("A domani, grazie", False),
    ]


async def test_withdrawing_in_words_on_whatsapp(rig: Rig) -> None:
    t = await a_held_need(rig)
    await rig.write(f"vorrei ritirare la richiesta {t.lower()}")
    assert "Vuoi ritirare" in rig.bodies()[-1] and "1. Sì" in rig.bodies()[-1]
    await rig.write("1")
    assert f"La persona ha ritirato la richiesta {t}" in bodies_to(rig, LUCIA)[-1]
