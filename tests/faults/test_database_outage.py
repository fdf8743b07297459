"""The database connection cut and restored mid-load: webhooks answer 503, Twilio's redeliveries then succeed, nothing lost or doubled."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import build_core
from bot.channels.web import build_web_app
from bot.channels.whatsapp import build
from bot.config import DispatcherSettings
from storage.models import InboundEvent, Need, OutboxMessage, OutboxStatus
from tests.helpers.asgi import LateApp
from tests.conftest import _admin_truncate, make_settings, whatsapp_settings
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio, serve_loopback
from tests.faults._load import INTAKE, Provider, TcpProxy, client, number_of, sends_per_outbox_row

pytestmark = [pytest.mark.postgres, TWILIO_AIOHTTP_DEPRECATIONS]

CITIZENS = 12
OUTAGE_SECONDS = 1.5


async def test_database_cut_mid_load_loses_and_doubles_nothing(postgres_database: str) -> None:
    await _admin_truncate(postgres_database)
    url = make_url(postgres_database)
    late = LateApp()
    async with (
        TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy,
        FakeTwilio(rate=None) as fake,
        serve_loopback(late) as base_url,
        client() as http,
    ):
        settings = make_settings(
            url.set(port=proxy.port).render_as_string(hide_password=False),
            whatsapp=whatsapp_settings(fake, base_url, messages_per_second=400),
            dispatcher=DispatcherSettings(lease_seconds=6, backoff_base_seconds=0.05, idle_poll_seconds=0.05),
        )
        core = await build_core(settings)
        channel = await build(core)
        late.app = build_web_app(core, channel.routes)
        dispatcher = core.dispatcher({"whatsapp": channel.sender})
        stop = asyncio.Event()
        sending = asyncio.create_task(dispatcher.run_forever(stop))
        provider = Provider(fake, http, base_url)
        try:
            load = asyncio.gather(*(provider.citizen(number_of(i), i) for i in range(CITIZENS)))
            while len(provider.accepted) < CITIZENS * len(INTAKE) // 3:
                await asyncio.sleep(0.01)
            proxy.cut()
            await asyncio.sleep(OUTAGE_SECONDS)
            proxy.restore()
            await asyncio.wait_for(load, timeout=30)
            async with core.sessions() as session:
                for _ in range(300):
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
            stop.set()
            await sending
            assert channel.shutdown is not None
            await channel.shutdown()
            await core.close()
    assert provider.answers[503] > 0, "the outage never reached a webhook: the test proved nothing"
    assert pending == 0
    assert needs == CITIZENS, "each intake creates exactly one need"
    assert inbound == CITIZENS * len(INTAKE) == len(set(provider.accepted))
    sends = sends_per_outbox_row(fake)
    assert len(sends) == rows, "every reply reached the provider"
    assert [row for row, n in sends.items() if n > 1] == [], "no reply was sent twice"
