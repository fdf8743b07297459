"""The health check reports the database and the outbox depth."""

from __future__ import annotations

import httpx

from bot.core import Core
from bot.channels.web import build_web_app
from storage import outbox
from storage.db import transaction
from tests.helpers.clock import FakeClock


async def test_healthz_reports_outbox_depth(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        await outbox.enqueue(session, channel="test", recipient="a", citizen_id=None, text="x", now=clock.now)
    app = build_web_app(core)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "outbox_pending": 1, "outbox_failed": 0, "outbox_held": 0}


async def test_healthz_is_503_when_the_database_is_gone(core: Core) -> None:
    app = build_web_app(core)
    await core.db.dispose()
    core.sessions.configure(bind=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
