"""The statements of the sending path (issue 18): status callbacks write once, sent marks go in one
executemany, and the dispatcher's statements are built once per process, on both backends."""

from __future__ import annotations

import random
from datetime import timedelta
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from bot.channels.whatsapp import apply_status
from bot.core import Core
from bot.dispatcher import Dispatcher
from handlers import whatsapp
from storage import outbox
from storage.db import transaction
from storage.models import Citizen, OutboxMessage
from tests.bot.test_dispatcher import ScriptedSender, enqueue, rows
from tests.helpers import statements
from tests.helpers.clock import FakeClock
from tests.helpers.statements import Executed


@contextmanager
def recorded(core: Core) -> Iterator[list[Executed]]:
    """Every statement meanwhile, SQLAlchemy's and the plain lane's (`storage/plain.py`); BEGIN and COMMIT are not among them."""
    with statements.recorded(core.db) as seen:
        yield seen


async def sent_row(core: Core, clock: FakeClock, *, sid: str) -> int:
    await enqueue(core, clock, "ciao")
    [row] = await rows(core)
    assert row.id is not None
    async with transaction(core.sessions) as session:
        await outbox.mark_sent(session, message_id=row.id, provider_message_id=sid, now=clock.now)
    return row.id


async def report(core: Core, clock: FakeClock, status: str, *, sid: str, outbox_id: int | None) -> list[str]:
    with recorded(core) as seen:
        resent = await apply_status(
            core,
            whatsapp.StatusReport(message_sid=sid, status=status, error_code=None),
            outbox_id=outbox_id,
            templates=whatsapp.ContentTemplates(),
            now=clock.now,
        )
    assert not resent
    return [e.sql.split()[0].upper() for e in seen]


async def test_a_delivery_callback_is_one_guarded_update_and_never_moves_a_row_back(core: Core, clock: FakeClock) -> None:
    row_id = await sent_row(core, clock, sid="SM1")
    assert await report(core, clock, "delivered", sid="SM1", outbox_id=row_id) == ["UPDATE"]  # no read before the write
    assert (await rows(core))[0].status == "delivered"
    assert await report(core, clock, "sent", sid="SM1", outbox_id=row_id) == ["UPDATE"]  # late and out of order
    assert (await rows(core))[0].status == "delivered"
    await report(core, clock, "read", sid="SM1", outbox_id=None)  # found by the provider's id alone
    assert (await rows(core))[0].status == "read"
    await report(core, clock, "read", sid="SM-another-attempt", outbox_id=row_id)  # not this attempt's
    [row] = await rows(core)
    assert (row.status, row.provider_message_id) == ("read", "SM1")


async def test_a_callback_that_beats_the_sent_mark_lands_and_the_mark_keeps_it(core: Core, clock: FakeClock) -> None:
    await enqueue(core, clock, "ciao")
    [row] = await rows(core)
    assert row.id is not None and row.provider_message_id is None
    await report(core, clock, "delivered", sid="SM9", outbox_id=row.id)
    async with transaction(core.sessions) as session:
        await outbox.mark_sent(session, message_id=row.id, provider_message_id="SM9", now=clock.now)
    [row] = await rows(core)
    assert (row.status, row.provider_message_id) == ("delivered", "SM9")


async def test_a_batch_of_sent_messages_is_marked_in_one_statement(core: Core, clock: FakeClock) -> None:
    await enqueue(core, clock, "uno", "due", "tre", "quattro")
    sender = ScriptedSender()
    dispatcher = Dispatcher(core.sessions, {"test": sender}, clock=clock, rng=random.Random(1))
    with recorded(core) as seen:
        assert await dispatcher.run_once() == 4
    updates = [e.sql for e in seen if e.sql.upper().startswith("UPDATE OUTBOX SET STATUS")]
    assert len(updates) == 1, updates
    assert not [e.sql for e in seen if "purge_recipient IS" in e.sql], "none of them asked to be purged: nothing to look up"
    assert [r.status for r in await rows(core)] == ["sent"] * 4
    assert [r.provider_message_id for r in await rows(core)] == ["p1", "p2", "p3", "p4"]


async def test_the_dispatchers_statements_are_built_once(core: Core, clock: FakeClock) -> None:
    """Claim, contacts, sent marks: the same statement objects every round (SQLAlchemy
    then skips building them and their cache keys, which cost more than running them)."""
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel="test", external_id="anna", created_at=clock.now, last_inbound_at=clock.now)
        session.add(citizen)
        await session.flush()
        citizen_id = citizen.id
    sender = ScriptedSender()
    dispatcher = Dispatcher(core.sessions, {"test": sender}, clock=clock, rng=random.Random(1))
    rounds: list[set[int]] = []
    kept: list[Any] = []  # alive, so no id() is reused by a statement built later
    for text in ("uno", "due"):
        await enqueue(core, clock, text, citizen_id=citizen_id)
        with recorded(core) as seen:
            assert await dispatcher.run_once() == 1
        kept += [e.statement for e in seen if e.statement is not None]
        rounds.append({id(e.statement) for e in seen if e.statement is not None})
    assert len(rounds[1]) >= 3, "claim, contacts, mark (the purge looks only for a row that asks for it)"
    assert rounds[1] <= rounds[0], "a statement was built again"
    async with core.sessions() as session:
        assert len((await session.execute(select(OutboxMessage))).all()) == 2



async def test_a_claim_leases_its_rows_in_one_update(core: Core, clock: FakeClock) -> None:
    """Three chats' rows claimed at once: one UPDATE … WHERE id IN sets their lease (the ORM's flush ran
    one UPDATE a row, as an executemany, through its unit of work)."""
    for name in ("anna", "bruno", "carla"):
        await enqueue(core, clock, f"ciao {name}", recipient=name)
    with recorded(core) as seen:
        async with transaction(core.sessions) as session:
            claimed = await outbox.claim_batch(session, channels=["test"], now=clock.now, limit=10, lease=timedelta(seconds=30))
    assert len(claimed) == 3
    [lease] = [e.sql for e in seen if not e.sql.startswith("SELECT")]
    assert lease.startswith("UPDATE outbox SET next_attempt_at") and " IN (" in lease, lease
    assert {row.next_attempt_at for row in claimed} == {clock.now + timedelta(seconds=30)}
    assert {row.next_attempt_at for row in await rows(core)} == {clock.now + timedelta(seconds=30)}
