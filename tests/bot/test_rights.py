"""Citizens' rights through the real pipeline: erasure leaves no personal data anywhere, language, announcements."""

from __future__ import annotations

from sqlalchemy import JSON, String, Text, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from bot.core import Core
from conversations import Inbound
from storage.models import AuditLog, Citizen, Need
from tests.bot.test_pipeline import RecordingSender
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator

SENDER = "zz-citizen-7f3a9"
INTAKE = ("ciao", "1", "1", "5", "Mi servono zucchine e pomodori", "Ravenna", "1", "2", "3331234567", "1", "1")
SECRETS = (SENDER, "zucchine", "pomodori", "3331234567")


def _text_columns(connection: Connection) -> list[tuple[str, str]]:
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | Text | JSON) or "VARCHAR" in str(column.type) or "TEXT" in str(column.type):
                found.append((table.name, column.name))
    return found


async def scan(core: Core, needle: str) -> list[str]:
    """Every table.column holding `needle` anywhere in its text (JSON cast to text)."""
    hits = []
    async with core.db.connect() as conn:
        columns = await conn.run_sync(_text_columns)
        is_pg = conn.dialect.name == "postgresql"
        for table, column in columns:
            expr = f'CAST("{column}" AS TEXT)' if is_pg else f'"{column}"'
            n = (await conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE {expr} LIKE :p'), {"p": f"%{needle}%"})).scalar_one()
            if n:
                hits.append(f"{table}.{column}")
    return hits


async def say(core: Core, clock: FakeClock, body: str, n: list[int] = [0]) -> None:  # noqa: B006
    n[0] += 1
    clock.advance(seconds=5)
    await core.pipeline.handle(Inbound(channel="test", external_id=f"e{n[0]}", sender=SENDER, received_at=clock.now, text=body))


async def test_erasure_leaves_no_personal_data_in_any_table_and_keeps_the_counts(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia")
    for body in INTAKE:
        await say(core, clock, body)
    async with core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
    await core.pipeline.handle(Inbound(channel="test", external_id="op1", sender="lucia", received_at=clock.now, text=f"/prendo {need.ticket}"))
    before = await scan(core, "zucchine")
    assert before and any(h.startswith("outbox") for h in before)  # the operator was told the description
    assert await scan(core, "3331234567")

    await say(core, clock, "/cancella_dati")
    assert await scan(core, "zucchine")  # nothing changes before the confirmation
    await say(core, clock, "sì")
    sender = RecordingSender()
    await core.dispatcher({"test": sender}, clock=clock).flush()
    assert "abbiamo cancellato i tuoi dati" in [m for m in sender.sent if m.recipient == SENDER][-1].text

    for secret in SECRETS:
        assert await scan(core, secret) == [], secret
    async with core.sessions() as session:
        [kept] = (await session.execute(select(Need))).scalars().all()
        actions = (await session.execute(select(AuditLog.action, AuditLog.detail))).all()
        erased = (await session.execute(select(Citizen).where(Citizen.erased_at.is_not(None)))).scalar_one()  # type: ignore[union-attr]
    assert (kept.category_slug, kept.comune_istat, kept.status, kept.urgency) == ("spesa", RAVENNA, "presa_in_carico", need.urgency)
    assert ("data_erased", "1") in actions and ("data_rights", "cancellazione_chiesta") in actions
    assert erased.external_id == f"erased-{erased.id}"


async def test_erasure_can_be_declined(core: Core, clock: FakeClock) -> None:
    for body in INTAKE:
        await say(core, clock, body)
    await say(core, clock, "/cancella_dati")
    await say(core, clock, "no")
    assert await scan(core, "zucchine")


async def test_language_and_announcement_opt_out(core: Core, clock: FakeClock) -> None:
    await say(core, clock, "/lingua en")
    await say(core, clock, "/stop_annunci")
    async with core.sessions() as session:
        citizen = (await session.execute(select(Citizen))).scalar_one()
        rights = (await session.execute(select(func.count()).select_from(AuditLog).where(AuditLog.action == "data_rights"))).scalar_one()
    assert citizen.language == "en" and citizen.broadcasts_refused_at is not None and rights == 2
    await say(core, clock, "/ricevi_annunci")
    await say(core, clock, "/lingua")
    await say(core, clock, "italiano")
    async with core.sessions() as session:
        citizen = (await session.execute(select(Citizen))).scalar_one()
    assert citizen.language == "it" and citizen.broadcasts_refused_at is None


def test_every_text_column_is_scanned() -> None:
    names = {t.name for t in SQLModel.metadata.sorted_tables}
    assert {"need", "outbox", "conversation", "citizen", "need_note", "audit_log"} <= names
    assert inspect  # the scan reads the live metadata, so a new table is covered without touching this test
