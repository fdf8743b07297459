"""The pipeline on SQLite and PostgreSQL: dedup, one transaction, outbox, crash recovery."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.core import Core
from conversations import Inbound
from handlers import Outgoing
from storage import conversations, outbox, plain
from storage.db import transaction
from storage.models import Citizen, Conversation, InboundEvent, Need, NeedStatusChange, OutboxMessage
from tests.helpers import statements
from tests.helpers.clock import FakeClock
from tests.helpers.entropy import seeded

INTAKE = ("ciao", "1", "1", "5", "Mia madre ha 85 anni e le serve aiuto per la spesa", "Ravenna", "1", "1", "1")


class RecordingSender:
    channel = "test"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        self.sent.append(message)
        return f"m{len(self.sent)}"


def inbound(n: int | str, text: str, *, sender: str = "anna", clock: FakeClock) -> Inbound:
    return Inbound(channel="test", external_id=str(n), sender=sender, received_at=clock.now, text=text)


async def count(core: Core, model: type, *where: object) -> int:
    async with core.sessions() as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int((await session.execute(query)).scalar_one())


async def run_intake(core: Core, clock: FakeClock, *, sender: str = "anna", start: int = 0) -> None:
    for i, text in enumerate(INTAKE, start=start):
        await core.pipeline.handle(inbound(f"{sender}-{i}", text, sender=sender, clock=clock))
        clock.advance(seconds=5)


async def test_whole_intake_stores_one_need_with_its_history(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock)
    async with core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
        history = (await session.execute(select(NeedStatusChange))).scalars().all()
        citizen = (await session.execute(select(Citizen))).scalar_one()
    assert need.category_slug == "spesa" and need.comune_istat == "039014" and need.status == "nuova"
    assert len(need.ticket) == 7 and need.ticket[3] == "-"
    assert need.created_at.tzinfo is not None
    assert [h.to_status for h in history] == ["nuova"]
    assert citizen.consent_version == 1 and citizen.consent_at is not None


async def test_redelivered_update_creates_one_need_and_one_set_of_replies(core: Core, clock: FakeClock) -> None:
    for i, text in enumerate(INTAKE):
        first = await core.pipeline.handle(inbound(i, text, clock=clock))
        again = await core.pipeline.handle(inbound(i, text, clock=clock))
        assert not first.duplicate and again.duplicate
    assert await count(core, Need) == 1
    assert await count(core, InboundEvent) == len(INTAKE)
    # welcome+menu, then one or two replies per answer: never a doubled set
    async with core.sessions() as session:
        texts = (await session.execute(select(OutboxMessage.text).order_by(OutboxMessage.id))).scalars().all()
    assert sum("Il tuo codice è" in t for t in texts) == 1
    assert len(texts) == len(INTAKE) + 1


async def test_concurrent_redeliveries_create_one_need(core: Core, clock: FakeClock) -> None:
    for i, text in enumerate(INTAKE[:-1]):
        await core.pipeline.handle(inbound(i, text, clock=clock))
    final = inbound("final", INTAKE[-1], clock=clock)
    results = await asyncio.gather(*(core.pipeline.handle(final) for _ in range(5)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True, True]
    assert await count(core, Need) == 1


async def test_crash_after_commit_before_send_sends_the_reply_once_after_restart(
    core: Core, clock: FakeClock
) -> None:
    # The process "dies" right after the commit: no dispatcher ever ran.
    await core.pipeline.handle(inbound(1, "ciao", clock=clock))
    pending = await count(core, OutboxMessage, OutboxMessage.status == "pending")
    assert pending == 2

    # A new process starts on the same database.
    restarted = RecordingSender()
    dispatcher = core.dispatcher({"test": restarted}, clock=clock)
    assert await dispatcher.flush() == 2
    assert await dispatcher.flush() == 0
    assert [m.recipient for m in restarted.sent] == ["anna", "anna"]
    assert "Ciao" in restarted.sent[0].text
    assert await count(core, OutboxMessage, OutboxMessage.status == "sent") == 2


async def test_crash_while_sending_resends_after_the_lease(core: Core, clock: FakeClock) -> None:
    await core.pipeline.handle(inbound(1, "ciao", clock=clock))

    class Dies:
        channel = "test"

        async def send(self, message: Outgoing) -> str | None:
            raise asyncio.CancelledError  # the worker is killed mid-send

    dying = core.dispatcher({"test": Dies()}, clock=clock)
    with pytest.raises(asyncio.CancelledError):
        await dying.run_once()
    survivor = RecordingSender()
    dispatcher = core.dispatcher({"test": survivor}, clock=clock)
    assert await dispatcher.flush() == 0  # still leased to the dead worker
    clock.advance(seconds=61)
    await dispatcher.flush()
    assert len(survivor.sent) == 2


async def test_ticket_collision_draws_a_new_code(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock, sender="anna")
    async with core.sessions() as session:
        first = (await session.execute(select(Need.ticket))).scalar_one()
    # Bob's turns replay Anna's random bytes: his first ticket draw is hers.
    core.pipeline.entropy = seeded()
    await run_intake(core, clock, sender="bob", start=100)
    async with core.sessions() as session:
        tickets = (await session.execute(select(Need.ticket))).scalars().all()
    assert len(set(tickets)) == 2 and first in tickets


async def test_state_survives_between_messages(core: Core, clock: FakeClock) -> None:
    for i, text in enumerate(INTAKE[:4]):
        await core.pipeline.handle(inbound(i, text, clock=clock))
    async with core.sessions() as session:
        row = (await session.execute(select(Conversation))).scalar_one()
    assert row.flow_id == "intake" and row.step_id == "description" and row.answers["category"] == "spesa"


async def test_miei_lists_stored_needs_with_status(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock)
    await core.pipeline.handle(inbound("m", "/miei", clock=clock))
    async with core.sessions() as session:
        last = (await session.execute(select(OutboxMessage.text).order_by(OutboxMessage.id.desc()))).scalars().first()
    assert last is not None and "Le tue richieste" in last and "ricevuta" in last


async def test_inbound_event_stores_no_message_text(core: Core, clock: FakeClock) -> None:
    await core.pipeline.handle(inbound(1, "testo personale", clock=clock))
    async with core.sessions() as session:
        row = (await session.execute(select(InboundEvent))).scalar_one()
    assert "testo personale" not in repr(row.model_dump())


async def test_two_citizens_do_not_share_state(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock, sender="anna")
    await core.pipeline.handle(inbound("b1", "ciao", sender="bruno", clock=clock))
    async with core.sessions() as session:
        rows: Sequence[Conversation] = (await session.execute(select(Conversation))).scalars().all()
    assert len(rows) == 2
    assert await count(core, Need) == 1


async def test_a_reply_longer_than_the_channel_allows_is_split_on_lines(core: Core, clock: FakeClock) -> None:
    from conversations import Msg, Reply
    from conversations.types import Turn

    long_reply = Reply(Msg("needs.list", {"items": tuple(Msg("status.nuova") for _ in range(600))}))
    original = core.engine.step
    core.engine.step = lambda state, event, ctx, call=None: Turn(state=state, replies=(long_reply,), effects=())  # type: ignore[method-assign]
    try:
        await core.pipeline.handle(Inbound(channel="whatsapp", external_id="w1", sender="+39333", received_at=clock.now, text="x"))
    finally:
        core.engine.step = original  # type: ignore[method-assign]
    async with core.sessions() as session:
        parts = (await session.execute(select(OutboxMessage.text).order_by(OutboxMessage.id))).scalars().all()
    assert len(parts) >= 4 and all(len(p) <= 1600 for p in parts)
    assert sum(p.count("ricevuta") for p in parts) == 600


# --- statements per turn: a regression budget ------------------------------

INTAKE_BUDGET = (10, 7, 7, 7, 7, 7, 7, 7, 17)
"""SQL statements a turn of INTAKE may send, its BEGIN included (counted by its `begin` event: on
SQLite it is the dialect's `do_begin`, on PostgreSQL asyncpg sends it with the first statement;
neither is a cursor call, nor is COMMIT). Before issue 4's work: 13, 9, …, 9, 18 on SQLite.

The first message also creates the citizen (savepoint, insert, release); the last files the
need and routes it, after one read of whether anyone covers it (issue 15: the citizen is told
honestly, before the step, whether a cooperative will call). Every other turn: BEGIN, citizen + conversation, inbound dedup, the
citizen's needs, conversation upsert, outbox rows, citizen update. On SQLite each statement
is a hand-off to aiosqlite's thread, the largest cost of a turn (docs/performance.md): raise
these only with a reason, never for an N+1."""


async def test_an_intake_turn_stays_within_its_statement_budget(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock, sender="warm")  # caches (categories) filled, as in production
    begins = [0]

    def begin(conn: object) -> None:
        begins[0] += 1

    event.listen(core.db.sync_engine, "begin", begin)
    try:
        per_turn = []
        for i, text in enumerate(INTAKE):
            begins[0] = 0
            with statements.recorded(core.db) as seen:  # the plain lane's statements count too
                await core.pipeline.handle(inbound(f"anna-{i}", text, clock=clock))
            per_turn.append(len(seen) + begins[0])
            clock.advance(seconds=5)
    finally:
        event.remove(core.db.sync_engine, "begin", begin)
    over = [(text, n, budget) for text, n, budget in zip(INTAKE, per_turn, INTAKE_BUDGET) if n > budget]
    assert not over, f"statements per turn {per_turn} over the budget {list(INTAKE_BUDGET)}"
    assert await count(core, Need) == 2


async def test_an_ordinary_turn_builds_no_statement_and_writes_its_citizen_in_one_update(
    core: Core, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn's statements are the same objects every time (building one cost about as much as
    running it, issue 18), and the citizen's changed columns go in one UPDATE, not the ORM's flush.
    On SQLite most of them take the plain lane (`storage/plain.py`), compiled once too."""
    await run_intake(core, clock, sender="warm")
    real_compile, compiles = plain._compile, [0]

    def compile_counted(statement: Any, dialect: Any, names: frozenset[str]) -> Any:
        compiles[0] += 1
        return real_compile(statement, dialect, names)

    monkeypatch.setattr(plain, "_compile", compile_counted)
    kept: list[object] = []  # alive, so no id() is reused by a statement built later
    rounds: list[set[int]] = []
    for i, text in enumerate(("ciao", "ciao")):  # the same step twice: the welcome
        compiles[0] = 0
        with statements.recorded(core.db) as seen:
            await core.pipeline.handle(inbound(f"bruno-{i}", text, sender="bruno", clock=clock))
        clock.advance(seconds=5)
        kept += [e.statement for e in seen if e.statement is not None]
        rounds.append({id(e.statement) for e in seen if e.statement is not None})
    updates = [re.findall(r"(\w+)=", e.sql) for e in seen if e.sql.startswith("UPDATE citizen")]
    assert updates == [["last_inbound_at", "paced_until"]], updates
    built = [e.sql for e in seen if e.statement is not None and id(e.statement) not in rounds[0]]
    assert not built, f"built again in the second turn: {built}"
    assert compiles == [0], "a lane statement compiled again in the second turn"
    async with core.sessions() as session:
        bruno = (await session.execute(select(Citizen).where(Citizen.external_id == "bruno"))).scalar_one()
    assert bruno.last_inbound_at == clock.now - timedelta(seconds=5)


async def test_an_ordinary_turn_leaves_the_orm_no_flush_to_walk(core: Core, clock: FakeClock) -> None:
    """Once its one UPDATE is written, the citizen is clean to the ORM: neither `enqueue_many` nor
    the commit walks a flush that has nothing to write (~130 µs a turn, issue 18)."""
    await run_intake(core, clock, sender="warm")
    await core.pipeline.handle(inbound("carla-0", "ciao", sender="carla", clock=clock))  # carla exists from here on
    clock.advance(seconds=5)
    walked: list[list[str]] = []

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        walked.append(sorted(type(row).__name__ for row in session.dirty))

    event.listen(Session, "before_flush", before_flush)
    try:
        await core.pipeline.handle(inbound("carla-1", "ciao", sender="carla", clock=clock))
    finally:
        event.remove(Session, "before_flush", before_flush)
    assert walked == []
    async with core.sessions() as session:
        carla = (await session.execute(select(Citizen).where(Citizen.external_id == "carla"))).scalar_one()
    assert carla.last_inbound_at == clock.now  # written all the same, by its UPDATE


async def test_a_turn_on_a_conversation_that_moved_meanwhile_is_replayed(core: Core, clock: FakeClock) -> None:
    """The conversation is written only if it is still at the version the turn read."""
    await core.pipeline.handle(inbound(0, "ciao", clock=clock))
    async with core.sessions() as session:
        [citizen_id] = (await session.execute(select(Citizen.id))).scalars().all()
    async with transaction(core.sessions) as session:
        read = await conversations.load(session, citizen_id=citizen_id)
    async with transaction(core.sessions) as session:  # another turn got there first
        await conversations.save(session, citizen_id=citizen_id, state=replace(read, version=read.version + 1), read_version=read.version)
    with pytest.raises(conversations.StaleConversation):
        async with transaction(core.sessions) as session:
            await conversations.save(session, citizen_id=citizen_id, state=replace(read, version=read.version + 1), read_version=read.version)
    async with transaction(core.sessions) as session:
        assert (await conversations.load(session, citizen_id=citizen_id)).version == read.version + 1

    real_save = conversations.save
    calls = [0]

    async def racing_save(session: AsyncSession, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 1:  # the first attempt finds the row moved: the pipeline replays on fresh data
            raise conversations.StaleConversation("moved")
        await real_save(session, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conversations, "save", racing_save)
        handled = await core.pipeline.handle(inbound(1, "1", clock=clock))
    assert not handled.duplicate and calls[0] == 2
    assert await count(core, InboundEvent) == 2  # the failed attempt rolled back its dedup row


async def test_two_first_messages_racing_make_one_citizen_and_two_turns(core: Core, clock: FakeClock) -> None:
    """On PostgreSQL both miss the citizen; the loser of the unique constraint reads the winner's
    citizen and conversation (one query) and applies its turn on top."""
    results = await asyncio.gather(
        core.pipeline.handle(inbound("first-a", "ciao", sender="nuova", clock=clock)),
        core.pipeline.handle(inbound("first-b", "ciao", sender="nuova", clock=clock)),
    )
    assert [r.duplicate for r in results] == [False, False]
    assert results[0].citizen_id == results[1].citizen_id
    assert await count(core, Citizen) == 1
    async with core.sessions() as session:
        state = await conversations.load(session, citizen_id=results[0].citizen_id or 0)
    assert state.version == 2  # both turns applied, one after the other


async def test_a_turn_tells_the_dispatcher_which_chats_it_wrote_for(core: Core, clock: FakeClock) -> None:
    """The wake names the chats (issue 18): the dispatcher then claims only for a chat it is not still sending to."""
    told: list[object] = []
    core.wakeups.on_outbox(told.append)
    await core.pipeline.handle(inbound(1, "ciao", sender="anna", clock=clock))
    await core.pipeline.handle(inbound(1, "ciao", sender="anna", clock=clock))  # a redelivery writes nothing, wakes nobody
    assert told == [frozenset({("test", "anna")})]


async def test_a_transaction_that_cannot_name_its_chats_says_so(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        assert outbox.written(session) == frozenset()
        await outbox.enqueue_many(session, [outbox.row(channel="test", recipient="bruno", citizen_id=None, text="x", now=clock.now)])
        assert outbox.written(session) == frozenset({("test", "bruno")})
        outbox.note_written(session, None)  # what a broadcast's rows do
        await outbox.enqueue(session, channel="test", recipient="carla", citizen_id=None, text="y", now=clock.now)
        assert outbox.written(session) is None
