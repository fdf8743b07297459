"""The plain lane: on SQLite the hot statements skip SQLAlchemy's execution and write and read exactly what it would.

Each test runs a turn's statements in a hot transaction (`transaction(..., on_the_loop=True)`), on
SQLite (the lane) and on PostgreSQL (the session, unchanged), and reads the result back through
the ORM. On SQLite the stored bytes are also compared with the same statements run through the
session: the lane must not change what is in the file (a datetime's text, JSON's spacing).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Core
from conversations import State
from storage import conversations, delivery, inbound, outbox, plain
from storage.db import create_engine, is_outage, off_the_loop, session_factory, transaction
from storage.models import Citizen, Conversation, OutboxMessage, OutboxStatus
from storage.plain import Plain
from tests.helpers import statements
from tests.helpers.citizens import add_citizen

NOW = datetime(2026, 12, 4, 18, 30, 15, 123456, tzinfo=UTC)


async def _a_turns_writes(session: AsyncSession, citizen_id: int) -> list[int]:
    """What a turn writes through the lane: its inbound key, its state, two replies (one leased), a sent mark."""
    assert await inbound.record(session, channel="telegram", external_id="u-1", citizen_id=citizen_id, at=NOW)
    assert not await inbound.record(session, channel="telegram", external_id="u-1", citizen_id=citizen_id, at=NOW)
    state = State(flow_id="intake", flow_version=1, step_id="comune", answers={"description": "la spesa, è urgente"}, history=("welcome",), version=1, updated_at=NOW)
    await conversations.save(session, citizen_id=citizen_id, state=state, read_version=None)
    later = outbox.row(channel="telegram", recipient="42", citizen_id=citizen_id, text="Grazie!", options=(("1", "Sì"),), now=NOW)
    await outbox.enqueue_many(session, [later])
    [leased] = await outbox.enqueue_leased(session, [later | {"text": "Ecco"}], until=NOW + timedelta(seconds=30))
    await outbox.mark_many_sent(session, sent=[(leased, "m-1")], now=NOW)
    return await outbox.pending_ids(session, ("telegram", "42"))


async def _citizen(core: Core) -> int:
    return await add_citizen(core, at=NOW)


async def test_a_turns_statements_write_and_read_what_the_session_would(core: Core) -> None:
    citizen_id = await _citizen(core)
    with statements.recorded(core.db) as seen:
        async with transaction(core.sessions, on_the_loop=True) as session:
            pending = await _a_turns_writes(session, citizen_id)
            read = await conversations.load(session, citizen_id=citizen_id)
            state, replies = Conversation.__table__, OutboxMessage.__table__  # type: ignore[attr-defined]
            whole = select(state, replies).join_from(state, replies, state.c.citizen_id == replies.c.citizen_id)  # every type of both
            on_the_lane = await Plain(whole).rows(session, {})
            by_session = [tuple(row) for row in (await session.execute(whole)).all()]
    by_sqlalchemy = [e.sql for e in seen if not e.lane]
    if core.db.dialect.name == "sqlite":  # on the lane: SQLAlchemy ran only the BEGIN and the state's read
        assert not [s for s in by_sqlalchemy if s.split()[0] in ("INSERT", "UPDATE")], by_sqlalchemy
    else:  # PostgreSQL: the session ran them all
        assert len([s for s in by_sqlalchemy if s.split()[0] == "INSERT"]) == 5, by_sqlalchemy
    assert on_the_lane == by_session and len(on_the_lane) == 2
    assert read.answers == {"description": "la spesa, è urgente"} and read.history == ("welcome",) and read.updated_at == NOW
    async with core.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    assert [(r.text, r.status, r.attempts, r.options, r.sent_at, r.provider_message_id) for r in rows] == [
        ("Grazie!", OutboxStatus.PENDING, 0, [{"payload": "1", "label": "Sì"}], None, None),
        ("Ecco", OutboxStatus.SENT, 0, [{"payload": "1", "label": "Sì"}], NOW, "m-1"),
    ]
    assert rows[0].created_at == NOW and rows[1].next_attempt_at == NOW + timedelta(seconds=30)
    assert pending == [rows[0].id]  # the sent one is not pending


async def test_on_sqlite_the_file_holds_the_same_bytes_either_way(core: Core) -> None:
    if core.db.dialect.name != "sqlite":
        pytest.skip("the lane runs on SQLite only")
    citizen_id = await _citizen(core)
    path = core.db.url.database
    assert path is not None
    stored = []
    for lane in (True, False):
        async with transaction(core.sessions) as session:  # a clean slate for each run
            for table in (Conversation.__table__, OutboxMessage.__table__, inbound.TABLE):  # type: ignore[attr-defined]
                await session.execute(table.delete())
        with statements.recorded(core.db) as seen:
            async with transaction(core.sessions, on_the_loop=True) as session:
                if not lane:
                    session.info.pop(plain.RAW)  # the same transaction, its statements through the session
                await _a_turns_writes(session, citizen_id)
        inserts = [e for e in seen if e.sql.startswith("INSERT")]
        assert inserts and all(e.lane is lane for e in inserts), seen
        with sqlite3.connect(path) as raw:
            stored.append(_stored(raw))
    assert stored[0] == stored[1]


def _stored(raw: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every column of the rows a turn writes, as SQLite holds them (ids aside: they grow)."""
    rows: list[tuple[Any, ...]] = []
    for table, first in (("conversation", 0), ("outbox", 1), ("inbound_event", 1)):
        for row in raw.execute(f"SELECT * FROM {table} ORDER BY rowid"):  # fixed names
            rows.append((table, *row[first:]))
    assert len(rows) == 4
    return rows


async def test_an_error_on_the_lane_is_sqlalchemys_and_rolls_the_transaction_back(core: Core) -> None:
    citizen_id = await _citizen(core)
    with pytest.raises(IntegrityError) as raised:
        async with transaction(core.sessions, on_the_loop=True) as session:
            await inbound.record(session, channel="telegram", external_id="u-2", citizen_id=citizen_id, at=NOW)
            await inbound.record(session, channel="telegram", external_id="u-3", citizen_id=citizen_id + 999, at=NOW)
    assert "u-3" not in str(raised.value)  # parameters hidden: they are what people wrote
    assert not is_outage(raised.value)
    async with core.sessions() as session:  # the first insert went with the rollback
        assert (await session.execute(select(inbound.TABLE.c.id))).all() == []


@pytest.fixture
async def lane_db(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lane.sqlite3'}")
    async with engine.begin() as conn:
        await conn.run_sync(TABLE.metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


METADATA = MetaData()
TABLE = Table("t", METADATA, Column("id", Integer, primary_key=True), Column("name", String(8), unique=True), Column("tag", String(8), default=lambda: "computed"))


async def test_an_insert_with_a_default_computed_in_python_goes_through_the_session(lane_db: Any) -> None:
    statement = Plain(insert(TABLE).returning(TABLE.c.id))
    async with transaction(lane_db, on_the_loop=True) as session:
        assert await statement.rows(session, {"name": "a"}) == [(1,)]
    assert statement._forms == {frozenset({"name"}): None}  # not taken over: SQLAlchemy computes the tag
    async with lane_db() as session:
        assert (await session.execute(select(TABLE.c.tag))).scalar_one() == "computed"


async def test_the_lane_is_only_for_hot_transactions(lane_db: Any) -> None:
    read = Plain(select(TABLE.c.name).where(TABLE.c.id == 1))
    async with transaction(lane_db) as session:  # not on the loop: no lane
        assert plain.RAW not in session.info
        await Plain(insert(TABLE)).run_many(session, [{"name": "a", "tag": "x"}])
    assert not read._forms
    async with transaction(lane_db, on_the_loop=True) as session:
        assert await read.rows(session, {}) == [("a",)]
        assert read._forms  # taken on the lane
        await off_the_loop(session)  # a long read follows: it must leave the loop's thread
        assert plain.RAW not in session.info


async def test_a_missing_parameter_is_an_error_as_through_the_session(lane_db: Any) -> None:
    """Not a NULL bound in its place: the lane leaves such a statement to SQLAlchemy, which refuses it."""
    by_id = Plain(select(TABLE.c.name).where(TABLE.c.id == bindparam("id")))
    async with transaction(lane_db, on_the_loop=True) as session:
        with pytest.raises(StatementError, match="value is required"):
            await by_id.rows(session, {})


async def test_a_list_of_values_is_left_to_the_session(lane_db: Any) -> None:
    """`IN (:ids)` is written anew for each list's length: SQLAlchemy's work, not the lane's."""
    named = Plain(select(TABLE.c.name).where(TABLE.c.id.in_(bindparam("ids", expanding=True))).order_by(TABLE.c.id))
    async with transaction(lane_db, on_the_loop=True) as session:
        await Plain(insert(TABLE)).run_many(session, [{"name": n, "tag": "x"} for n in ("a", "b", "c")])
        assert await named.rows(session, {"ids": [1, 3]}) == [("a",), ("c",)]
    assert named._forms == {frozenset({"ids"}): None}


async def test_status_reports_on_the_lane_say_how_many_rows_moved(core: Core) -> None:
    """`advance_many` in a hot transaction (the WhatsApp callbacks' batch): what moved, and only forwards."""
    citizen_id = await _citizen(core)
    async with transaction(core.sessions, on_the_loop=True) as session:
        rows = [outbox.row(channel="whatsapp", recipient="+39340", citizen_id=citizen_id, text=t, now=NOW) for t in ("uno", "due")]
        ids = await outbox.enqueue_leased(session, rows, until=NOW)
        await outbox.mark_many_sent(session, sent=[(ids[0], "SM1"), (ids[1], "SM2")], now=NOW)
    reports = [delivery.Progress("SM1", "delivered", ids[0]), delivery.Progress("SM2", "read", ids[1]), delivery.Progress("SM1", "sent", ids[0])]
    async with transaction(core.sessions, on_the_loop=True) as session:
        moved = await delivery.advance_many(session, reports)
    assert moved == (2 if core.db.dialect.name == "sqlite" else -1)  # the late "sent" moves nothing; asyncpg does not count
    async with core.sessions() as session:
        assert (await session.execute(select(OutboxMessage.status).order_by(OutboxMessage.id))).scalars().all() == ["delivered", "read"]


async def test_a_select_of_orm_columns_reads_the_same_rows_on_the_lane_and_off_it(core: Core) -> None:
    """`select(Model.column)` is ORM-enabled: through the session (PostgreSQL, or a transaction that is not
    hot) it answers an ORM `Result`, which has no `returns_rows`; its rows must come back all the same."""
    citizen_id = await _citizen(core)
    ids = Plain(select(Citizen.id).where(Citizen.external_id == bindparam("external_id")))
    for hot in (True, False):
        async with transaction(core.sessions, on_the_loop=hot) as session:
            assert await ids.rows(session, {"external_id": "42"}) == [(citizen_id,)]
            assert await ids.rows(session, {"external_id": "nobody"}) == []
