"""Workers whose clocks disagree: leases and due times are read from the database, so they agree.

Each "host" is a `FakeClock` set against the real time; the database keeps its own (real) clock.
A host 61 s ahead, with a 60 s outbox lease, used to see a row another host was still sending
as due again, and send it a second time; a reply written on that host was due 61 s late for
everyone else. The media fetcher's lease (5 min) is the same story with a larger skew.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text

from bot.app import build_core
from bot.clock import DatabaseClock, utc_now
from bot.core import Core
from bot.dispatcher import Dispatcher
from bot.media import MediaFetcher, MediaPolicy
from handlers import Outgoing
from storage import outbox
from storage.clock import db_now
from storage.db import transaction
from storage.models import Citizen, FetchStatus, Need, NeedAttachment
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock

LEASE = timedelta(seconds=60)
TWILIO = "https://api.twilio.test"


class HeldSender:
    """A provider whose answer takes as long as the test likes: the row stays in flight meanwhile."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: Outgoing) -> str | None:
        self.started.set()
        await self.release.wait()
        self.sent.append(message.outbox_id)
        return f"p{message.outbox_id}"


def host(core: Core, sender: HeldSender, local: FakeClock) -> Dispatcher:
    """A worker whose own clock reads `local`, wired as `ascolto run` wires it."""
    return Dispatcher(core.sessions, {"test": sender}, lease=LEASE, clock=DatabaseClock(local))


async def test_db_now_is_the_databases_clock(core: Core) -> None:
    before = utc_now()
    async with core.sessions() as session:
        now = await db_now(session)
    after = utc_now()
    # The same machine's clock, to the millisecond SQLite's strftime keeps.
    assert before - timedelta(milliseconds=2) <= now <= after + timedelta(milliseconds=2)
    assert now.utcoffset() == timedelta(0)


async def test_the_databases_clock_costs_no_query_on_sqlite_and_agrees_with_sqlites_own(core: Core) -> None:
    """A WAL database's clock is its host's: read here, to the millisecond, it is what SQLite itself
    reads (one statement less in every claim, issue 18). PostgreSQL's is its server's: one query."""
    sqlite = core.db.dialect.name == "sqlite"
    statements: list[str] = []
    event.listen(core.db.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    async with core.sessions() as session:
        for _ in range(20):
            statements.clear()
            ours = await db_now(session)
            assert len(statements) == (0 if sqlite else 1)
            assert ours.utcoffset() == timedelta(0)
            if sqlite:
                assert ours.microsecond % 1000 == 0
                stamp = await session.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
                sqlites = datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC)
                assert timedelta(0) <= sqlites - ours <= timedelta(milliseconds=50)  # never ahead of SQLite's next reading


async def test_a_host_60_s_ahead_never_sends_a_row_another_host_has_in_flight(core: Core) -> None:
    on_time, ahead = FakeClock(utc_now()), FakeClock(utc_now() + LEASE + timedelta(seconds=1))
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="ciao", now=on_time())
    a_sender, b_sender = HeldSender(), HeldSender()
    b_sender.release.set()
    sending = asyncio.create_task(host(core, a_sender, on_time).run_once())
    try:
        await a_sender.started.wait()  # claimed, leased for 60 s of the database's time, being sent
        # Host B's own clock says that lease ended a second ago; the database's says it has 60 s to go.
        b_sent = await host(core, b_sender, ahead).run_once()
    finally:
        a_sender.release.set()
        a_sent = await sending
    assert (a_sent, b_sent) == (1, 0)
    assert (a_sender.sent, b_sender.sent) == ([1], [])


async def test_a_reply_written_on_a_host_ahead_is_due_at_once_for_everyone(core: Core) -> None:
    ahead = DatabaseClock(FakeClock(utc_now() + timedelta(minutes=5)))
    async with transaction(core.sessions) as session:
        await ahead.sync(session)  # at start-up, then at every claim
        await outbox.enqueue(session, channel="test", recipient="anna", citizen_id=None, text="ciao", now=ahead())
    sender = HeldSender()
    sender.release.set()
    assert await host(core, sender, FakeClock(utc_now())).run_once() == 1


async def pending_attachment(core: Core) -> None:
    now = utc_now()
    async with transaction(core.sessions) as session:
        citizen = Citizen(channel="whatsapp", external_id="+393331234567", created_at=now)
        session.add(citizen)
        await session.flush()
        session.add(
            Need(
                id="0" * 32, ticket="K7M-R4P", citizen_id=citizen.id, category_slug="spesa", description="spesa",
                comune_istat="039014", urgency="media", contact_method="chat", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            NeedAttachment(
                need_id="0" * 32, kind="photo", ref=f"{TWILIO}/media/1", content_type="image/jpeg",
                fetch_status=FetchStatus.PENDING, fetch_due_at=now,
            )
        )  # fmt: skip


async def test_a_fetcher_ahead_by_more_than_the_lease_never_fetches_a_file_in_flight(core: Core, tmp_path: Path) -> None:
    await pending_attachment(core)
    requests: list[str] = []
    release = asyncio.Event()

    async def twilio(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        if len(requests) == 1:  # the first download is in flight until the test says
            await release.wait()
        return httpx.Response(200, content=b"\xff\xd8photo", headers={"content-type": "image/jpeg"})

    policy = MediaPolicy(directory=tmp_path, api_base_url=TWILIO)
    skew = policy.lease + timedelta(seconds=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(twilio)) as http:

        def fetcher(local: FakeClock) -> MediaFetcher:
            clock = DatabaseClock(local)
            return MediaFetcher(core.sessions, http, account_sid="AC1", auth_token="t", policy=policy, clock=clock)

        fetching = asyncio.create_task(fetcher(FakeClock(utc_now())).run_once())
        try:
            while not requests:
                await asyncio.sleep(0.005)
            second = await fetcher(FakeClock(utc_now() + skew)).run_once()
        finally:
            release.set()
            first = await fetching
    assert (first, second) == (1, 0)
    assert len(requests) == 1


@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(0), timedelta(hours=3)])
async def test_a_synced_clock_reads_the_databases_time_whatever_the_hosts(core: Core, skew: timedelta) -> None:
    local = FakeClock(utc_now() + skew)
    clock = DatabaseClock(local)
    async with core.sessions() as session:
        synced = await clock.sync(session)
    assert timedelta(0) < synced - clock() <= DatabaseClock.RESOLUTION  # a hair behind, never ahead
    local.advance(seconds=10)  # this host's clock runs on; the offset stays until the next sync
    assert timedelta(0) < synced + timedelta(seconds=10) - clock() <= DatabaseClock.RESOLUTION
    assert abs(clock() - timedelta(seconds=10) - utc_now()) < timedelta(seconds=1)


async def test_a_time_stamped_after_a_sync_is_never_ahead_of_the_databases_next_reading(core: Core) -> None:
    """What is written with the clock is due at once: SQLite reads whole milliseconds, so a clock set to
    the middle of the query would stamp rows up to a millisecond ahead of a claim that follows at once."""
    clock = DatabaseClock()
    async with core.sessions() as session:
        for _ in range(200):
            await clock.sync(session)
            stamped = clock()
            assert stamped <= await db_now(session)


async def test_ascolto_run_reads_time_from_the_database(db_url: str) -> None:
    core = await build_core(make_settings(db_url))  # as `ascolto run` builds it: no clock given
    try:
        assert isinstance(core.clock, DatabaseClock)
        assert abs(core.clock() - utc_now()) < timedelta(seconds=1)  # synced at start (same machine here)
        assert core.dispatcher({}).clock is core.clock  # one offset, refreshed at every claim
    finally:
        await core.close()
