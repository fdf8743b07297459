"""Operators through the real pipeline: enrolment, routed notifications, claims, status changes told to the citizen."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.core import Core
from bot.notify import Admins
from bot.notify import Recipient
from storage import operators
from storage.db import transaction
from storage.models import AuditLog, Invite, Need, NeedAssignment, NeedNote, NeedStatusChange, Operator, OutboxMessage
from tests.bot.test_pipeline import run_intake
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator, say


async def outbox_to(core: Core, recipient: str) -> list[str]:
    async with core.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.text).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def last_to(core: Core, recipient: str) -> str:
    return (await outbox_to(core, recipient))[-1]


async def invite(core: Core, coop: int, code: str = "K7MR4PXA", *, days: int = 7) -> None:
    now = core.pipeline.clock()
    async with transaction(core.sessions) as session:
        await operators.create_invite(session, cooperative_id=coop, code=code, expires_at=now + timedelta(days=days), now=now)


async def the_need(core: Core) -> Need:
    async with core.sessions() as session:
        return (await session.execute(select(Need))).scalar_one()


async def test_operator_enrols_with_a_single_use_invite(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await invite(core, coop)
    await core.pipeline.handle(say(core, "lucia", "/operatore k7mr-4pxa"))
    assert "Ora sei operatore di Il Cantiere" in await last_to(core, "lucia")
    await core.pipeline.handle(say(core, "marco", "/operatore K7MR-4PXA"))
    assert "già stato usato" in await last_to(core, "marco")
    await core.pipeline.handle(say(core, "lucia", "/operatore K7MR-4PXA"))
    assert "Sei già operatore di Il Cantiere" in await last_to(core, "lucia")
    async with core.sessions() as session:
        ops = (await session.execute(select(Operator))).scalars().all()
        used = (await session.execute(select(Invite))).scalar_one()
    assert [o.external_id for o in ops] == ["lucia"]
    assert used.used_by_operator_id == ops[0].id and used.used_at == clock.now


async def test_expired_or_unknown_invite_enrols_nobody(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await invite(core, coop, days=1)
    clock.advance(days=1, seconds=1)
    await core.pipeline.handle(say(core, "lucia", "/operatore K7MR-4PXA"))
    assert "scaduto" in await last_to(core, "lucia")
    await core.pipeline.handle(say(core, "lucia", "/operatore AAAA-AAAA"))
    assert "non esiste" in await last_to(core, "lucia")
    async with core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Operator))).scalar_one() == 0


async def test_two_people_racing_for_one_invite_enrol_one(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await invite(core, coop)
    await asyncio.gather(*(core.pipeline.handle(say(core, who, "/operatore K7MR-4PXA")) for who in ("a", "b", "c")))
    async with core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Operator))).scalar_one() == 1


async def test_operator_chat_from_notification_to_resolution(core: Core, clock: FakeClock) -> None:
    """The transcript of an operator's day: notified, lists, claims, updates; the citizen hears each step."""
    near = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    wide = await add_coop(core, "rete", province=("RA",), name="Rete Romagna")
    await add_coop(core, "lavoro", categories=("lavoro",), province=("RA",))
    await add_operator(core, near, "lucia")
    await add_operator(core, wide, "pietro")
    await run_intake(core, clock, sender="anna")  # spesa, Ravenna, urgent, chat
    need = await the_need(core)
    t = need.ticket

    notice = await last_to(core, "lucia")
    assert f"Nuova richiesta {t}" in notice and "Ravenna" in notice and "/prendo" in notice
    assert "anna" not in notice  # no more personal data than needed
    assert f"Nuova richiesta {t}" in await last_to(core, "pietro")

    await core.pipeline.handle(say(core, "lucia", "/richieste"))
    listing = await last_to(core, "lucia")
    assert "Richieste aperte di Il Cantiere: 1" in listing and t in listing

    await core.pipeline.handle(say(core, "lucia", "", choice=f"/prendo {t}"))
    assert f"Fatto: {t} è vostra" in await last_to(core, "lucia")
    assert f"{t} è stata presa in carico da Il Cantiere" in await last_to(core, "pietro")
    assert f"la tua richiesta {t} è stata presa in carico da Il Cantiere" in await last_to(core, "anna")

    await core.pipeline.handle(say(core, "pietro", f"/prendo {t}"))
    assert f"{t} è già stata presa in carico da Il Cantiere" in await last_to(core, "pietro")
    await core.pipeline.handle(say(core, "pietro", f"/stato {t} risolta"))
    assert "seguita da un'altra cooperativa" in await last_to(core, "pietro")

    await core.pipeline.handle(say(core, "lucia", f"/stato {t.lower().replace('-', '')} in corso chiamata la figlia"))
    assert f"{t} ora è «in corso»" in await last_to(core, "lucia")
    assert "sta lavorando alla tua richiesta" in await last_to(core, "anna")
    await core.pipeline.handle(say(core, "lucia", f"/nota {t} consegna giovedì"))
    await core.pipeline.handle(say(core, "lucia", f"/stato {t} risolta"))
    assert f"La tua richiesta {t} è stata risolta" in await last_to(core, "anna")

    await core.pipeline.handle(say(core, "lucia", f"/richiesta {t}"))
    detail = await last_to(core, "lucia")
    assert "Stato: risolta (Il Cantiere)" in detail and "consegna giovedì" in detail and "chiamata la figlia" in detail

    async with core.sessions() as session:
        row = await session.get(Need, need.id)
        history = (await session.execute(select(NeedStatusChange.to_status, NeedStatusChange.actor).order_by(NeedStatusChange.id))).all()
        actions = (await session.execute(select(AuditLog.action).order_by(AuditLog.id))).scalars().all()
        notes = (await session.execute(select(func.count()).select_from(NeedNote))).scalar_one()
    assert row is not None and row.status == "risolta" and row.resolved_at is not None
    assert [h[0] for h in history] == ["nuova", "presa_in_carico", "in_corso", "risolta"]
    assert all(h[1] == "citizen" or h[1].startswith("operator:") for h in history)
    assert actions == ["need_claimed", "status_changed", "note_added", "status_changed"] and notes == 1


async def test_decline_removes_the_need_and_the_last_decline_tells_the_admins(core: Core, clock: FakeClock) -> None:
    core.notifier.admins = Admins((Recipient("test", "admin"),))
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    await run_intake(core, clock, sender="anna")
    t = (await the_need(core)).ticket
    await core.pipeline.handle(say(core, "lucia", "", choice=f"/declino {t}"))
    assert f"{t} non è più nella lista" in await last_to(core, "lucia")
    assert "Tutte le cooperative hanno risposto" in await last_to(core, "admin")
    async with core.sessions() as session:
        status = (await session.execute(select(NeedAssignment.status))).scalar_one()
    assert status == "rifiutata"


async def test_need_no_cooperative_covers_goes_to_the_admins(core: Core, clock: FakeClock) -> None:
    core.notifier.admins = Admins((Recipient("test", "admin"), Recipient("console", "capo")))
    await add_coop(core, "lavoro", categories=("lavoro",), comuni=(RAVENNA,))
    await run_intake(core, clock, sender="anna")
    t = (await the_need(core)).ticket
    assert f"Nessuna cooperativa copre la richiesta {t}" in await last_to(core, "admin")
    assert f"Nessuna cooperativa copre la richiesta {t}" in await last_to(core, "capo")


async def test_citizen_typing_an_operator_command_gets_the_unknown_command_answer_and_is_logged(
    core: Core, clock: FakeClock
) -> None:
    # Bruno's sentence is not a command at all: whatever the menu makes of it is the neutral answer.
    for who in ("anna", "bruno"):
        await core.pipeline.handle(say(core, who, "ciao"))
    await core.pipeline.handle(say(core, "bruno", "stato K7M-R4P risolta"))
    await core.pipeline.handle(say(core, "anna", "/stato K7M-R4P risolta"))
    assert await last_to(core, "anna") == await last_to(core, "bruno")
    async with core.sessions() as session:
        audit = (await session.execute(select(AuditLog))).scalars().all()
    assert [(a.action, a.detail) for a in audit] == [("command_refused", "stato")]
    assert audit[0].actor.startswith("citizen:")


async def test_simultaneous_claims_through_the_pipeline_have_one_winner(core: Core, clock: FakeClock) -> None:
    coops = [await add_coop(core, f"c{i}", comuni=(RAVENNA,), name=f"Coop {i}") for i in range(3)]
    for i, c in enumerate(coops):
        await add_operator(core, c, f"op{i}")
    await run_intake(core, clock, sender="anna")
    t = (await the_need(core)).ticket
    await asyncio.gather(*(core.pipeline.handle(say(core, f"op{i}", f"/prendo {t}")) for i in range(3)))
    answers = [await last_to(core, f"op{i}") for i in range(3)]
    assert sum(f"Fatto: {t} è vostra" in a for a in answers) == 1
    assert sum("è già stata presa in carico" in a for a in answers) == 2
    citizen = await outbox_to(core, "anna")
    assert sum("è stata presa in carico da" in m for m in citizen) == 1


async def test_a_page_number_int_refuses_lists_the_first_page(core: Core, clock: FakeClock) -> None:
    """"፩" and "²" pass `str.isdigit` and make `int()` raise: the reader used to crash the turn (issue 13)."""
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia")
    await run_intake(core, clock, sender="anna")
    for page in ("፩", "²", "9" * 40, "1" * 5000):
        await core.pipeline.handle(say(core, "lucia", f"/richieste {page}"))
        assert "Richieste aperte di Il Cantiere: 1" in await last_to(core, "lucia"), page


async def test_a_page_past_the_last_shows_the_last_one(core: Core, clock: FakeClock) -> None:
    """"/richieste 2" with one page of open needs used to answer "pagina 2 di 1" and an empty list."""
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia")
    await run_intake(core, clock, sender="anna")
    t = (await the_need(core)).ticket
    for text in ("/richieste 2", "/richieste 0"):
        await core.pipeline.handle(say(core, "lucia", text))
        listing = await last_to(core, "lucia")
        assert "(pagina 1 di 1)" in listing and t in listing, listing
    assert "La pagina 2 non c'è: ecco l'ultima." in (await outbox_to(core, "lucia"))[-2]
    assert "Le pagine si contano da 1: ecco la prima." in listing
