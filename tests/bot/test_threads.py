"""Issue 15 (1-2): the holding cooperative and the citizen write to each other through the bot, the citizen
adds information, withdraws a request, and sees who holds each one — through the real pipeline."""

from __future__ import annotations

import itertools
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from bot.core import Core
from conversations import Inbound
from storage.db import transaction
from storage.models import Citizen, Need, NeedMessage, NeedStatusChange, OutboxMessage
from tests.bot.test_operators import outbox_to
from tests.bot.test_pipeline import INTAKE
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator

_n = itertools.count(1)


async def say(core: Core, sender: str, text: str, *, channel: str = "test", reply_to: str | None = None) -> None:
    event = Inbound(
        channel=channel, external_id=f"{sender}-{next(_n)}", sender=sender, received_at=core.pipeline.clock(), text=text, reply_to=reply_to
    )
    await core.pipeline.handle(event)


async def last(core: Core, recipient: str) -> str:
    return (await outbox_to(core, recipient))[-1]


async def last_options(core: Core, recipient: str) -> list[str]:
    """The labels of the options offered with the last message (drawn as a numbered list where there are no buttons)."""
    async with core.sessions() as session:
        rows = await session.execute(select(OutboxMessage.options).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc()))  # type: ignore[union-attr]
        return [o["label"] for o in rows.scalars().first() or []]


async def since(core: Core, recipient: str, mark: int) -> str:
    """Everything `recipient` was sent after the first `mark` messages, as one text."""
    return "\n".join((await outbox_to(core, recipient))[mark:])


async def seen(core: Core, recipient: str) -> int:
    return len(await outbox_to(core, recipient))


async def thread_rows(core: Core) -> list[tuple[str, str]]:
    async with core.sessions() as session:
        rows = await session.execute(select(NeedMessage.direction, NeedMessage.body).order_by(NeedMessage.id))
        return [(str(d), str(b)) for d, b in rows.all()]


async def need(core: Core) -> Need:
    async with core.sessions() as session:
        return (await session.execute(select(Need))).scalar_one()


async def held_by_cantiere(
    core: Core, clock: FakeClock, *, channel: str = "test", citizen: str = "anna", claim_after: timedelta = timedelta(hours=2)
) -> str:
    """Anna's request for shopping in Ravenna, claimed by Lucia of Il Cantiere; Sara (Altra Coop) was offered it too."""
    cantiere = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    altra = await add_coop(core, "altra", province=("RA",), name="Altra Coop")
    await add_operator(core, cantiere, "lucia")
    await add_operator(core, cantiere, "marco")
    await add_operator(core, altra, "sara")
    for text in INTAKE:
        await say(core, citizen, text, channel=channel)
        clock.advance(seconds=5)
    ticket = (await need(core)).ticket
    clock.advance(seconds=claim_after.total_seconds())
    await say(core, "lucia", f"/prendo {ticket}")
    return ticket


@pytest.mark.parametrize("channel", ["console", "test"])
async def test_cooperative_and_citizen_write_to_each_other_until_the_citizen_says_fine(core: Core, clock: FakeClock, channel: str) -> None:
    t = await held_by_cantiere(core, clock, channel=channel)
    mark = await seen(core, "anna")

    await say(core, "lucia", f"/scrivi {t} Buongiorno, passiamo domani alle 10. Va bene?")
    assert f"Messaggio mandato alla persona della richiesta {t}" in await last(core, "lucia")
    told = await since(core, "anna", mark)
    assert f"Il Cantiere ti scrive sulla richiesta {t}" in told and "passiamo domani alle 10" in told

    before = await seen(core, "lucia"), await seen(core, "marco"), await seen(core, "sara")
    await say(core, "anna", "Sì grazie, suonate al secondo piano", channel=channel)
    assert "Ho mandato il tuo messaggio a Il Cantiere" in await last(core, "anna")
    for op in ("lucia", "marco"):  # every operator of the holding cooperative, with the ticket
        got = await last(core, op)
        assert f"Messaggio dalla persona della richiesta {t}" in got and "suonate al secondo piano" in got
    assert await seen(core, "sara") == before[2]  # another cooperative never reads the thread

    await say(core, "anna", "fine", channel=channel)
    assert "la conversazione con Il Cantiere è chiusa" in await last(core, "anna")
    await say(core, "anna", "ciao", channel=channel)  # no longer forwarded: the home menu answers
    assert "ciao" not in (await last(core, "lucia"))
    assert await thread_rows(core) == [
        ("alla_persona", "Buongiorno, passiamo domani alle 10. Va bene?"),
        ("dalla_persona", "Sì grazie, suonate al secondo piano"),
    ]

    await say(core, "lucia", f"/richiesta {t}")  # the holder reads the thread with the need
    detail = await last(core, "lucia")
    assert f"Messaggi della richiesta {t}" in detail and "voi: Buongiorno" in detail and "la persona: Sì grazie" in detail


async def test_the_conversation_times_out(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "lucia", f"/scrivi {t} Le serve anche il pane?")
    clock.advance(hours=25)
    mark = await seen(core, "lucia")
    await say(core, "anna", "sì, grazie")
    assert await seen(core, "lucia") == mark  # a day later the words are not forwarded any more
    assert "Ho mandato" not in await last(core, "anna")


async def test_only_the_holding_cooperative_writes_and_others_hear_an_unknown_ticket(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    mark = await seen(core, "anna")
    await say(core, "sara", f"/scrivi {t} Siamo noi, ci dia il suo indirizzo")  # offered it, lost the claim
    assert await last(core, "sara") == f"Non trovo la richiesta {t} tra quelle della tua cooperativa."
    await say(core, "sara", "/scrivi ACD-E79 ciao")  # a ticket that does not exist: the same words
    assert await last(core, "sara") == "Non trovo la richiesta ACD-E79 tra quelle della tua cooperativa."
    await say(core, "piero", f"/scrivi {t} ciao")  # not an operator at all: not a command for him
    assert "Non trovo la richiesta" not in await last(core, "piero")
    assert await seen(core, "anna") == mark and await thread_rows(core) == []


async def test_a_citizen_opens_the_conversation_from_the_ticket_menu_and_adds_information(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "anna", t.lower().replace("-", " "))
    menu = await last(core, "anna")
    assert t in menu and "La segue Il Cantiere" in menu
    assert await last_options(core, "anna") == ["Aggiungi informazioni", "Scrivi alla cooperativa", "Ritira la richiesta"]

    await say(core, "anna", "aggiungi informazioni")  # by words
    await say(core, "anna", "Il citofono è rotto, chiamate prima")
    assert f"ho aggiunto le informazioni alla richiesta {t}" in await last(core, "anna")
    assert f"Nuove informazioni sulla richiesta {t}" in await last(core, "lucia")

    await say(core, "anna", t)
    await say(core, "anna", "2")  # by number
    assert "Scrivi qui il tuo messaggio per Il Cantiere" in await last(core, "anna")
    await say(core, "anna", "A che ora passate?")
    assert "A che ora passate?" in await last(core, "lucia")
    assert [d for d, _ in await thread_rows(core)] == ["informazioni", "dalla_persona"]


async def test_mine_names_the_holder_the_status_and_when_it_last_changed(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock, claim_after=timedelta(days=3))
    claimed = (await need(core)).updated_at.astimezone(ZoneInfo("Europe/Rome"))
    await say(core, "anna", "/miei")
    mine = await last(core, "anna")
    day = format_date(claimed, "d MMMM yyyy", locale="it")
    assert f"{t} – Spesa e beni di prima necessità – presa in carico dal {day}" in mine, mine  # the claim's day, not the creation's
    assert "La segue Il Cantiere" in mine


async def test_an_unclaimed_request_says_we_are_looking(core: Core, clock: FakeClock) -> None:
    for text in INTAKE:  # no cooperative covers Ravenna
        await say(core, "anna", text)
    await say(core, "anna", "/miei")
    assert "Stiamo cercando chi può aiutarti" in await last(core, "anna")


@pytest.mark.parametrize("words", ["/ritira {t}", "voglio ritirare la richiesta {t}", "per favore ritira {t} non serve più"])
async def test_a_citizen_withdraws_with_a_confirmation_and_the_cooperative_is_told(core: Core, clock: FakeClock, words: str) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "anna", words.format(t=t))
    assert f"Vuoi ritirare la richiesta {t}?" in await last(core, "anna")
    await say(core, "anna", "sì")
    assert f"la richiesta {t} è ritirata" in await last(core, "anna")
    assert f"La persona ha ritirato la richiesta {t}" in await last(core, "lucia")
    assert (await need(core)).status == "chiusa"
    async with core.sessions() as session:
        change = (await session.execute(select(NeedStatusChange).order_by(NeedStatusChange.id.desc()))).scalars().first()  # type: ignore[union-attr]
    assert change is not None and change.actor == "citizen" and change.note == "ritirata dalla persona"


async def test_a_withdrawn_request_cannot_be_reopened_by_the_cooperative(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "anna", f"/ritira {t}")
    await say(core, "anna", "sì")
    await say(core, "lucia", f"/riapri {t}")
    assert f"{t} l'ha ritirata la persona" in await last(core, "lucia")
    assert (await need(core)).status == "chiusa"


async def test_a_citizen_who_says_no_keeps_the_request(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "anna", f"/ritira {t}")
    await say(core, "anna", "no")
    assert f"la richiesta {t} resta aperta" in await last(core, "anna")
    assert (await need(core)).status == "presa_in_carico"


async def test_erasure_deletes_the_thread(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "lucia", f"/scrivi {t} Passiamo alle 10")
    await say(core, "anna", "Abito in via Roma 3")
    await say(core, "anna", "fine")
    await say(core, "anna", "/cancella_dati")
    await say(core, "anna", "sì")
    assert await thread_rows(core) == []
    async with transaction(core.sessions) as session:
        row = (await session.execute(select(Citizen).where(Citizen.erased_at.is_not(None)))).scalar_one()  # type: ignore[union-attr]
        assert row.thread_need_id is None and row.waiting_messages == 0
        texts = (await session.execute(select(OutboxMessage.text))).scalars().all()
    assert not any("via Roma" in text for text in texts)


async def test_from_mine_a_citizen_picks_a_request_and_writes_to_its_cooperative(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "anna", "/miei")
    assert "sceglila" in await last(core, "anna") and await last_options(core, "anna") == [f"{t} – Spesa e beni di prima necessità"]
    await say(core, "anna", "1")
    assert await last_options(core, "anna") == ["Aggiungi informazioni", "Scrivi alla cooperativa", "Ritira la richiesta"]
    await say(core, "anna", "scrivi alla cooperativa")
    await say(core, "anna", "Potete venire dopo le 17?")
    assert "Potete venire dopo le 17?" in await last(core, "lucia")


async def test_while_talking_to_the_cooperative_the_list_of_requests_does_not_swallow_a_message(core: Core, clock: FakeClock) -> None:
    t = await held_by_cantiere(core, clock)
    await say(core, "lucia", f"/scrivi {t} Le serve altro?")
    await say(core, "anna", "/miei")
    await say(core, "anna", "Sì, anche il latte")  # no request is called that: it goes to the cooperative
    assert "anche il latte" in await last(core, "lucia")


@pytest.mark.parametrize(("quiet", "waits"), [(timedelta(hours=23, minutes=40), False), (timedelta(hours=23, minutes=55), True)])
async def test_on_whatsapp_a_message_near_the_end_of_the_window_waits_for_the_citizen(
    core: Core, clock: FakeClock, quiet: timedelta, waits: bool
) -> None:
    t = await held_by_cantiere(core, clock, channel="whatsapp", claim_after=timedelta(0))
    clock.advance(seconds=quiet.total_seconds())
    await say(core, "lucia", f"/scrivi {t} Passiamo alle 10")
    told = await last(core, "anna")
    async with core.sessions() as session:
        held = (await session.execute(select(NeedMessage.waiting))).scalar_one()
    assert held is waits
    assert ("rispondi per leggerlo" in told) is waits and ("Passiamo alle 10" in told) is not waits


async def test_information_added_before_anyone_holds_the_request_reaches_the_cooperatives_offered_it(core: Core, clock: FakeClock) -> None:
    cantiere = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, cantiere, "lucia")
    for text in INTAKE:
        await say(core, "anna", text)
    t = (await need(core)).ticket
    await say(core, "anna", t)
    assert await last_options(core, "anna") == ["Aggiungi informazioni", "Ritira la richiesta"]  # nobody to write to yet
    await say(core, "anna", "1")
    await say(core, "anna", "Abita al terzo piano senza ascensore")
    assert f"Nuove informazioni sulla richiesta {t}" in await last(core, "lucia")
    await say(core, "lucia", f"/prendo {t}")
    await say(core, "lucia", f"/richiesta {t}")
    assert "la persona (informazioni aggiunte): Abita al terzo piano" in await last(core, "lucia")
