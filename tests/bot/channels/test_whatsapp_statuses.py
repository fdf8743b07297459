"""Status callbacks in group commits (issue 18): the callbacks that wait at one moment share one
transaction, each answered only after the commit that holds its update, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from bot.channels.web import build_web_app
from storage import delivery, outbox
from storage.db import transaction
from storage.models import OutboxMessage
from tests.bot.channels.test_whatsapp import USER, Rig, enqueue_followup, rig
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers import statements

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS
__all__ = ["rig"]  # the fixture, used by name


@contextmanager
def commits(rig: Rig) -> Iterator[list[int]]:
    """Every transaction committed on the app's engine meanwhile (one entry each)."""
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    event.listen(rig.core.db.sync_engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(rig.core.db.sync_engine, "commit", count)


@asynccontextmanager
async def in_process(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    """The same app in this event loop (no sockets): requests sent side by side reach the app side by side."""
    app = build_web_app(rig.core, rig.channel.routes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        yield http


async def callback(rig: Rig, http: httpx.AsyncClient, row: OutboxMessage, status: str) -> int:
    """Twilio's signed status callback for `row`, to the URL the row was sent with; the answer's status code."""
    assert row.provider_message_id is not None
    path = f"/whatsapp/status?outbox={row.id}"
    params = {"MessageSid": row.provider_message_id, "MessageStatus": status, "To": f"whatsapp:{USER}"}
    signature = rig.fake.sign(rig.base_url + path, params)
    return (await http.post(path, data=params, headers={"X-Twilio-Signature": signature})).status_code


async def sent_rows(rig: Rig, count: int) -> list[OutboxMessage]:
    await rig.write("ciao")
    for n in range(count):
        await enqueue_followup(rig, f"Aggiornamento {n}.")
    await rig.dispatcher.flush()
    rows = await rig.rows()
    assert all(r.status == "sent" and r.provider_message_id for r in rows)
    return rows[-count:]


async def test_callbacks_waiting_together_share_one_commit_and_never_move_a_row_back(rig: Rig) -> None:
    rows = await sent_rows(rig, 6)
    reports = [(row, "delivered") for row in rows] + [(rows[0], "sent"), (rows[1], "read")]  # late, and a later one
    rank = {"sent": 1, "delivered": 2, "read": 3}

    async def answered_after_commit(row: OutboxMessage, status: str) -> int:
        answer = await callback(rig, http, row, status)
        # Read from another session the moment it is answered: its update is already committed.
        assert rank[next(r.status for r in await rig.rows() if r.id == row.id)] >= rank[status]
        return answer

    async with in_process(rig) as http:
        with commits(rig) as seen:
            answers = await asyncio.gather(*(answered_after_commit(row, status) for row, status in reports))
    assert answers == [204] * len(reports)
    assert len(seen) <= 2, f"{len(reports)} callbacks side by side took {len(seen)} transactions"
    after = {r.id: r.status for r in await rig.rows()}
    assert [after[r.id] for r in rows] == ["delivered", "read", "delivered", "delivered", "delivered", "delivered"]


async def test_a_failed_group_commit_answers_every_callback_in_it_503_and_twilios_retry_lands(rig: Rig) -> None:
    rows = await sent_rows(rig, 3)
    good_bind = rig.core.sessions.kw["bind"]
    async with in_process(rig) as http:
        await rig.core.db.dispose()
        rig.core.sessions.configure(bind=None)  # every transaction fails from here
        try:
            answers = await asyncio.gather(*(callback(rig, http, row, "delivered") for row in rows))
        finally:
            rig.core.sessions.configure(bind=good_bind)
        assert answers == [503] * len(rows)
        assert all(r.status == "sent" for r in (await rig.rows())[-3:])
        # Twilio retries each: now each is stored and answered.
        assert await asyncio.gather(*(callback(rig, http, row, "delivered") for row in rows)) == [204] * len(rows)
    assert all(r.status == "delivered" for r in (await rig.rows())[-3:])


async def test_status_batches_and_sent_marks_take_rows_in_id_order(rig: Rig) -> None:
    """PostgreSQL: a batch of callbacks and a batch of sent marks sharing rows lock them in the same order (no deadlock)."""
    rows = await sent_rows(rig, 3)
    ids = [r.id for r in rows]
    assert all(isinstance(i, int) for i in ids)
    with statements.recorded(rig.core.db) as executed:
        backwards = [delivery.Progress(str(r.provider_message_id), "delivered", r.id) for r in reversed(rows)]
        async with transaction(rig.core.sessions) as session:
            await delivery.advance_many(session, backwards)
            await outbox.mark_many_sent(session, sent=[(r.id or 0, r.provider_message_id) for r in reversed(rows)], now=rig.clock.now)
    # The bound values by name, whatever the driver's style or the path (the session's, the plain lane's).
    seen = [[int(p.get("outbox_id") or p["row_id"]) for p in e.params] for e in executed if e.sql.upper().startswith("UPDATE OUTBOX")]
    assert seen == [sorted(ids), sorted(ids)], seen
