"""Issue 7 through the real pipeline: roles and the authorisation matrix, audit, exports, statistics, broadcasts."""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import build_core
from bot.core import Core
from bot.config import AdminSettings, LimitsSettings
from bot.jobs.broadcasts import report_broadcasts
from conversations import Inbound
from storage.db import transaction
from storage.models import AuditLog, Broadcast, Citizen, OutboxMessage, StaffRole
from tests.bot.test_pipeline import RecordingSender
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need, add_operator
from tests.helpers.entropy import seeded

CHANNELS = ("telegram", "whatsapp", "console")
ADMIN_ID = {"telegram": "100", "whatsapp": "+393330000001", "console": "boss"}
_n = itertools.count()

STAFF_COMMANDS = (
    "/statistiche",
    "/stato_sistema",
    "/audit 5",
    "/annuncio",
    "/nomina_admin telegram 999",
    "/revoca_admin telegram 999",
    "/operatori",
    "/revoca_operatore 1",
    "/invito cantiere",
    "/cooperative",
    "/cooperativa cantiere",
    "/nuova_cooperativa",
    "/modifica_cooperativa cantiere orario",
    "/disattiva_cooperativa cantiere",
    "/categorie",
    "/nuova_categoria",
    "/rinomina_categoria spesa",
    "/sposta_categoria spesa 1",
    "/disattiva_categoria spesa",
    "/digest_ora cantiere",
    "/assegna K7M-R4P cantiere",
)
"""Admins only; everyone else gets what an unknown command gets."""
OPERATOR_COMMANDS = ("/esporta",)
CITIZEN_COMMANDS = ("/privacy", "/miei", "/lingua", "/stop_annunci", "/ricevi_annunci", "/cancella_dati")


async def _build(url: str, clock: FakeClock, tmp_path: Path) -> Core:
    admin = AdminSettings(
        telegram_ids=[ADMIN_ID["telegram"]],
        whatsapp_numbers=[ADMIN_ID["whatsapp"]],
        console_names=[ADMIN_ID["console"]],
        export_dir=tmp_path / "exports",
    )
    # The matrix types 108 messages an identity in one instant: faster than anyone, and the turn
    # budget is not what it checks (tests/bot/test_flood.py does).
    limits = LimitsSettings(turn_burst=1000)
    core = await build_core(make_settings(url, admin=admin, limits=limits), clock=clock)
    core.pipeline.entropy = seeded()
    return core


@pytest.fixture
async def admin_core(db_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    core = await _build(db_url, clock, tmp_path)
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
async def lite_core(sqlite_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    core = await _build(sqlite_url, clock, tmp_path)
    try:
        yield core
    finally:
        await core.close()


async def send(core: Core, sender: str, text: str, *, channel: str = "console") -> list[str]:
    """The texts queued by one message, in order."""
    async with core.sessions() as session:
        before = int(await session.scalar(select(func.max(OutboxMessage.id))) or 0)
    await core.pipeline.handle(
        Inbound(channel=channel, external_id=f"m{next(_n)}", sender=sender, received_at=core.pipeline.clock(), text=text)
    )
    # `/digest_ora` sends in the background after the commit: let it land here, not in the next command's texts.
    await core.pipeline.drain()
    async with core.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.text).where(OutboxMessage.id > before, OutboxMessage.recipient == sender).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def audits(core: Core, action: str) -> list[AuditLog]:
    async with core.sessions() as session:
        return list((await session.execute(select(AuditLog).where(AuditLog.action == action))).scalars())


# --- the authorisation matrix ----------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
async def test_every_command_is_checked_against_every_role(lite_core: Core, channel: str) -> None:
    core = lite_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "op-1", channel=channel)
    people = {"admin": ADMIN_ID[channel], "operator": "op-1", "citizen": "cit-1"}
    for role, who in people.items():
        for command in STAFF_COMMANDS + OPERATOR_COMMANDS + CITIZEN_COMMANDS:
            await send(core, who, "/annulla", channel=channel)
            unknown = await send(core, who, "/xyzzy", channel=channel)
            await send(core, who, "/annulla", channel=channel)
            refused_before = len(await audits(core, "command_refused"))
            got = await send(core, who, command, channel=channel)
            allowed = (
                command in CITIZEN_COMMANDS
                or role == "admin"
                or (role == "operator" and command in OPERATOR_COMMANDS)
            )
            refused = len(await audits(core, "command_refused")) - refused_before
            if allowed:
                assert got != unknown, (role, command)
                assert refused == 0, (role, command)
            else:
                assert got == unknown, (role, command)  # exactly the neutral answer, nothing leaks
                assert refused == 1, (role, command)
    refusals = await audits(core, "command_refused")
    assert all(a.actor.startswith("citizen:") and a.detail for a in refusals)


WORD_COMMANDS = (
    "statistiche 30g",
    "audit 5",
    "annuncio comune Ravenna",
    "nomina_admin telegram 999",
    "revoca_operatore {op}",
    "invito cantiere",
    "cooperativa cantiere",
    "modifica_cooperativa cantiere orario",
    "disattiva_cooperativa cantiere",
    "rinomina_categoria spesa",
    "sposta_categoria spesa 1",
    "disattiva_categoria spesa",
    "digest_ora cantiere",
)
"""Admin commands typed as a word with their arguments (WhatsApp only)."""
OPERATOR_WORDS = ("esporta 7g",)
DESK_WORDS = ("richiesta {ticket}", "prendo {ticket}", "stato {ticket} in corso", "nota {ticket} chiamata")
"""Only for an operator of a cooperative the need was routed to."""
CITIZEN_WORDS = ("lingua it",)


@pytest.mark.parametrize("channel", ("whatsapp", "telegram"))
async def test_every_word_command_with_arguments_is_checked_against_every_role(lite_core: Core, clock: FakeClock, channel: str) -> None:
    from datetime import timedelta

    core = lite_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    op = await add_operator(core, coop, "op-1", channel=channel)
    ticket = (await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(hours=1))).ticket
    people = {"admin": ADMIN_ID[channel], "operator": "op-1", "citizen": "cit-1"}
    for role, who in people.items():
        for template in WORD_COMMANDS + OPERATOR_WORDS + DESK_WORDS + CITIZEN_WORDS:
            command = template.format(op=op, ticket=ticket)
            await send(core, who, "/annulla", channel=channel)
            unknown = await send(core, who, "/xyzzy", channel=channel)
            await send(core, who, "/annulla", channel=channel)
            got = await send(core, who, command, channel=channel)
            allowed = channel == "whatsapp" and (
                template in CITIZEN_WORDS
                or (role == "admin" and template in WORD_COMMANDS + OPERATOR_WORDS)
                or (role == "operator" and template in OPERATOR_WORDS + DESK_WORDS)
            )
            if allowed:
                assert got != unknown, (role, command)
            else:
                assert got == unknown, (role, command)  # the words went to the conversation
    assert await audits(core, "command_refused") == []  # a plain word is never an attempt


async def test_a_word_command_works_for_admins_and_falls_through_for_citizens(lite_core: Core) -> None:
    core = lite_core
    assert any("Stato del sistema" in t for t in await send(core, "+393330000001", "sistema", channel="whatsapp"))
    # A citizen writing the same word at the menu is just answering the menu.
    await send(core, "+393339999999", "ciao", channel="whatsapp")
    got = await send(core, "+393339999999", "sistema", channel="whatsapp")
    assert not any("Stato del sistema" in t for t in got)
    assert await audits(core, "command_refused") == []  # a plain word is not an attempt


# --- roles granted from the chat -------------------------------------------------


async def test_admin_grants_and_revokes_admin_with_a_confirmation(admin_core: Core) -> None:
    core = admin_core
    assert any("123" in t and "Confermi" in t for t in await send(core, "boss", "/nomina_admin console 123"))
    assert await _count(core, StaffRole) == 0  # nothing changes before "sì"
    await send(core, "boss", "sì")
    assert any("Ultime" in t for t in await send(core, "123", "/audit"))
    await send(core, "boss", "/revoca_admin console 123")
    await send(core, "boss", "no")
    assert any("Ultime" in t for t in await send(core, "123", "/audit"))
    await send(core, "boss", "/revoca_admin console 123")
    await send(core, "boss", "si")
    assert not any("Ultime" in t for t in await send(core, "123", "/audit"))
    actions = [a.action for a in await _all_audits(core)]
    assert "admin_granted" in actions and "admin_revoked" in actions


async def test_revoked_operator_loses_the_desk(admin_core: Core) -> None:
    core = admin_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    op = await add_operator(core, coop, "lucia", channel="console")
    assert any("lucia" in t for t in await send(core, "boss", "/operatori"))
    await send(core, "boss", f"/revoca_operatore {op}")
    await send(core, "boss", "sì")
    assert not any("Scrivi /esporta" in t or "CSV" in t for t in await send(core, "lucia", "/esporta"))
    assert [a.operator_id for a in await audits(core, "operator_revoked")] == [op]


async def test_invite_from_the_chat_enrols_an_operator(admin_core: Core) -> None:
    core = admin_core
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    [reply] = await send(core, "boss", "/invito cantiere")
    code = reply.split("/operatore ")[-1].strip()
    assert any("Ora sei operatore di Il Cantiere" in t for t in await send(core, "lucia", f"/operatore {code}"))


# --- reports -----------------------------------------------------------------------


async def test_statistics_count_by_status_category_comune_and_cooperative(admin_core: Core, clock: FakeClock) -> None:
    core = admin_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    start = clock.now
    from datetime import timedelta

    await add_need(core, cooperative_ids=(coop,), at=start - timedelta(days=2), status="presa_in_carico", claimed_by=coop, claimed_after=timedelta(hours=4))
    await add_need(core, cooperative_ids=(coop,), at=start - timedelta(days=1), category="anziani")
    await add_need(core, at=start - timedelta(days=90))
    [text] = await send(core, "boss", "/statistiche 30g")
    assert "Richieste: 2" in text
    assert "• ricevuta: 1" in text and "• presa in carico: 1" in text
    assert "• Ravenna: 2" in text and "• Il Cantiere: 1" in text
    assert "4 ore" in text
    assert "Scrivi /statistiche" in (await send(core, "boss", "/statistiche ieri-l-altro"))[0]
    assert [a.detail for a in await audits(core, "staff_read")] == ["statistiche"]


async def test_system_status_shows_outbox_and_channels(admin_core: Core) -> None:
    core = admin_core
    await send(core, "cit-1", "ciao", channel="telegram")
    [text] = await send(core, "boss", "/stato_sistema")
    assert "Stato del sistema" in text and "telegram" in text and "pending" in text


async def test_audit_shows_who_did_what_without_bodies(admin_core: Core) -> None:
    core = admin_core
    await send(core, "cit-1", "/privacy")
    [text] = await send(core, "boss", "/audit 3")
    assert "una persona: ha chiesto dei propri dati – informazione" in text and "citizen:" not in text


async def test_audit_names_tickets_cooperatives_and_operators_in_italian(admin_core: Core, clock: FakeClock) -> None:
    """Issue 15: `/audit` showed internal ids ("operator:3", a need's uuid, "coop 1") and action codes."""
    from datetime import timedelta

    core = admin_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    op = await add_operator(core, coop, "lucia", channel="console")
    need = await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(hours=1), citizen="+393331234567")
    await send(core, "lucia", f"/prendo {need.ticket}")
    await send(core, "lucia", f"/stato {need.ticket} risolta consegnata la spesa alla signora Rossi")
    await send(core, "boss", "/digest_ora cantiere")
    [text] = await send(core, "boss", "/audit 3")
    lines = text.splitlines()[1:]
    assert lines[0].endswith("un amministratore: ha chiesto il riepilogo subito – cooperativa cantiere")
    assert lines[1].endswith(f"operatore n. {op} di cantiere: ha cambiato lo stato – richiesta {need.ticket}, risolta")
    assert lines[2].endswith(f"operatore n. {op} di cantiere: ha preso in carico – richiesta {need.ticket}")
    assert all(line.startswith("• 23 novembre 2026, 10:30 – ") for line in lines)  # 9:30 UTC, in Rome's time
    for private in ("+39", "Rossi", "consegnata", need.id, "operator:", "coop "):
        assert private not in text


# --- exports -----------------------------------------------------------------------


async def _export_files(core: Core, recipient: str) -> dict[str, str]:
    async with core.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.attachment_type, OutboxMessage.attachment_path).where(
                OutboxMessage.recipient == recipient, OutboxMessage.attachment_path.is_not(None)  # type: ignore[union-attr]
            )
        )
        return {str(t): str(p) for t, p in rows.all()}


async def test_admin_export_opens_with_personal_fields_and_operator_export_has_none(admin_core: Core, clock: FakeClock) -> None:
    core = admin_core
    from datetime import timedelta

    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    other = await add_coop(core, "altra", comuni=(RAVENNA,), name="Altra")
    await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(days=1))
    await add_need(core, cooperative_ids=(other,), at=clock.now - timedelta(days=1), category="anziani")
    await add_operator(core, coop, "lucia", channel="console")

    await send(core, "boss", "/esporta 7g")
    files = await _export_files(core, "boss")
    with open(files["text/csv"], encoding="utf-8-sig", newline="") as fp:
        table = list(csv.DictReader(fp))
    # A leading "+" is a formula sign to spreadsheets: the CSV neutralises it (issue 13), the XLSX keeps text cells.
    assert len(table) == 2 and {r["phone"] for r in table} == {"'+393331234567"}
    assert {r["category"] for r in table} == {"spesa", "anziani"}
    sheet = load_workbook(files["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]).active
    assert sheet is not None
    values = list(sheet.values)
    assert "description" in values[0] and len(values) == 3

    await send(core, "lucia", "/esporta 7g")
    files = await _export_files(core, "lucia")
    with open(files["text/csv"], encoding="utf-8-sig", newline="") as fp:
        table = list(csv.DictReader(fp))
    assert [r["category"] for r in table] == ["spesa"]  # only their cooperative's needs
    assert not {"description", "phone", "latitude", "contact_method"} & set(table[0])
    sheet = load_workbook(files["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]).active
    assert sheet is not None
    assert "phone" not in next(iter(sheet.values))
    assert [a.detail for a in await audits(core, "export")] == ["2 rows personal", "1 rows"]


# --- broadcasts ----------------------------------------------------------------------


async def _citizens(core: Core, n: int, *, channel: str = "telegram", **extra: object) -> None:
    now = core.pipeline.clock()
    async with transaction(core.sessions) as session:
        for i in range(n):
            session.add(Citizen(channel=channel, external_id=f"{channel}-{i}-{len(extra)}", consent_version=1, created_at=now, **extra))


async def test_broadcast_preview_confirm_and_cancel(admin_core: Core) -> None:
    core = admin_core
    await _citizens(core, 3)
    await _citizens(core, 1, opted_out_at=core.pipeline.clock())
    await _citizens(core, 1, channel="whatsapp", broadcasts_refused_at=core.pipeline.clock())
    await send(core, "boss", "/annuncio")
    [preview] = await send(core, "boss", "Domenica festa in piazza")
    assert "Domenica festa in piazza" in preview and "3 persone" in preview
    await send(core, "boss", "no")
    assert await _count(core, Broadcast) == 0
    await send(core, "boss", "/annuncio")
    await send(core, "boss", "Domenica festa in piazza")
    [queued] = await send(core, "boss", "sì")
    assert "3 persone" in queued
    async with core.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.broadcast_id.is_not(None)))).scalars().all()  # type: ignore[union-attr]
    assert len(rows) == 3 and all("Domenica festa in piazza" in r.text and "/stop_annunci" in r.text for r in rows)


async def test_a_thousand_recipients_are_sent_by_the_dispatcher_then_reported(lite_core: Core, clock: FakeClock) -> None:
    core = lite_core
    await _citizens(core, 1000)
    await send(core, "100", "/annuncio", channel="telegram")
    await send(core, "100", "Vaccini gratuiti in farmacia", channel="telegram")
    await send(core, "100", "si", channel="telegram")
    sender = RecordingSender()
    sender.channel = "telegram"
    dispatcher = core.dispatcher({"telegram": sender}, clock=clock)
    async with core.sessions() as session:
        assert await report_broadcasts(session, core.translator, now=clock.now) == 0  # not finished yet
    await dispatcher.flush()
    broadcast = [m for m in sender.sent if "Vaccini" in m.text and m.recipient != "100"]
    assert len(broadcast) == 1000 and len({m.recipient for m in broadcast}) == 1000
    async with transaction(core.sessions) as session:
        assert await report_broadcasts(session, core.translator, now=clock.now) == 1
    await dispatcher.flush()
    assert "1.000 inviati, 0 non inviati" in sender.sent[-1].text and sender.sent[-1].recipient == "100"


async def test_broadcast_filtered_by_comune_reaches_only_people_with_needs_there(admin_core: Core, clock: FakeClock) -> None:
    core = admin_core
    await add_need(core, at=clock.now, citizen="ravennate")
    await add_need(core, at=clock.now, comune="037006", citizen="bolognese")
    await send(core, "boss", "/annuncio comune Ravenna")
    [preview] = await send(core, "boss", "Nuovo servizio a Ravenna")
    assert "1 persone" in preview and "Ravenna" in preview


async def _count(core: Core, model: type) -> int:
    async with core.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _all_audits(core: Core) -> list[AuditLog]:
    async with core.sessions() as session:
        return list((await session.execute(select(AuditLog))).scalars())
