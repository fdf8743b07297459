"""kill -9 of a worker of `ascolto run --workers 2` mid-load: every accepted message applied once, every reply sent once (but the documented window)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import create_engine, session_factory
from storage.models import InboundEvent, Need, OutboxMessage, OutboxStatus
from tests.conftest import ROOT, _admin_truncate
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio
from tests.faults._load import INTAKE, Provider, client, number_of, sends_per_outbox_row
from tests.helpers.net import free_port

pytestmark = [pytest.mark.postgres, TWILIO_AIOHTTP_DEPRECATIONS]

CITIZENS = 8
LEASE_SECONDS = 2
KILL_DRAIN_SECONDS = 0.5


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextlib.asynccontextmanager
async def workers(db_url: str, fake: FakeTwilio, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASCOLTO_", "TWILIO_"))}
    env |= {
        "ASCOLTO_DATABASE__URL": db_url,
        "ASCOLTO_APP__LOG_LEVEL": "WARNING",
        "ASCOLTO_WEB__PORT": str(port),
        "ASCOLTO_WHATSAPP__ACCOUNT_SID": fake.account_sid,
        "ASCOLTO_WHATSAPP__AUTH_TOKEN": fake.auth_token,
        "ASCOLTO_WHATSAPP__FROM_NUMBER": fake.sender,
        "ASCOLTO_WHATSAPP__PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ASCOLTO_WHATSAPP__API_BASE_URL": fake.base_url,
        "ASCOLTO_WHATSAPP__MESSAGES_PER_SECOND": "400",
        "ASCOLTO_DISPATCHER__LEASE_SECONDS": str(LEASE_SECONDS),
        "ASCOLTO_DISPATCHER__IDLE_POLL_SECONDS": "0.1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--workers", "2", cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        pids = children_of(proc.pid)
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                for pid in [*pids, proc.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                await proc.wait()


async def test_worker_killed_mid_load_loses_nothing(postgres_database: str, record_property: pytest.RecordProperty) -> None:
    await _admin_truncate(postgres_database)
    port = free_port()
    async with FakeTwilio(rate=None) as fake, client() as http, workers(postgres_database, fake, port) as supervisor:
        for _ in range(200):  # the workers import and start (a few seconds on 2 cores)
            with contextlib.suppress(Exception):
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        provider = Provider(fake, http, f"http://127.0.0.1:{port}", retry_delay=0.2)
        load = asyncio.gather(*(provider.citizen(number_of(i), i) for i in range(CITIZENS)))
        while len(provider.accepted) < CITIZENS * len(INTAKE) // 3:
            await asyncio.sleep(0.005)
        victim = children_of(supervisor.pid)[0]
        os.kill(victim, signal.SIGKILL)
        leased_at_kill = await _leased(postgres_database)
        # What the victim wrote to its sockets before dying may still sit in the fake's receive
        # buffers; let the fake (same event loop) read it before taking the snapshot. The lease
        # (LEASE_SECONDS) keeps the survivor from re-sending the victim's rows in this pause.
        await asyncio.sleep(KILL_DRAIN_SECONDS)
        accepted_by_provider_before_kill = set(sends_per_outbox_row(fake))
        await asyncio.wait_for(load, timeout=40)
        engine = create_engine(postgres_database)
        try:
            async with session_factory(engine)() as session:
                for _ in range(600):  # ends as soon as nothing is pending
                    pending = await session.scalar(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                    )
                    if pending == 0:
                        break
                    await asyncio.sleep(0.05)
                needs = await session.scalar(select(func.count()).select_from(Need))
                inbound = await session.scalar(select(func.count()).select_from(InboundEvent))
                rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
        finally:
            await engine.dispose()
        for _ in range(300):  # the load may finish on the surviving worker before the restart (1 s delay)
            if len(children_of(supervisor.pid)) == 2:
                break
            await asyncio.sleep(0.05)
        assert victim not in children_of(supervisor.pid) and len(children_of(supervisor.pid)) == 2, "restarted"
    sends = sends_per_outbox_row(fake)
    doubled = {row for row, n in sends.items() if n > 1}
    record_property("replies_sent_twice", len(doubled))
    record_property("connection_errors_seen_by_provider", provider.answers[0])
    assert pending == 0
    assert needs == CITIZENS, "each intake creates exactly one need"
    assert inbound == CITIZENS * len(INTAKE) == len(set(provider.accepted)), "every accepted message stored once"
    assert len(sends) == rows, "every reply reached the provider"
    # The one window we document: the provider accepted the message, the worker died before
    # committing "sent". Only rows the provider already had at the kill may come twice.
    # Under load the fake may not have read the victim's last request within the drain pause; the
    # rows leased at the kill are the window itself (claimed, maybe accepted, "sent" not committed).
    assert doubled <= accepted_by_provider_before_kill | leased_at_kill


async def _leased(database: str) -> set[int]:
    """The rows some worker holds right now: pending, their `next_attempt_at` moved to a lease's end."""
    engine = create_engine(database)
    try:
        async with session_factory(engine)() as session:
            ids = await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at > func.now()
                )
            )
            return {int(i) for i in ids if i is not None}
    finally:
        await engine.dispose()
