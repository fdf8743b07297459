"""WhatsApp and a turn that raises (issue 13): Twilio gets 200 once it is stored as failed, the citizen one apology."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.models import DeadLetter, InboundEvent
from tests.bot.channels.test_whatsapp import USER, WINDOW_TEMPLATE, Rig, rig_for
from tests.bot.test_poison import Exploding
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import FakeClock

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS


@pytest.fixture
async def rig(db_url: str, clock: FakeClock) -> AsyncIterator[Rig]:
    async with rig_for(db_url, clock, window_template_sid=WINDOW_TEMPLATE) as built:
        yield built


@pytest.mark.parametrize("error", [KeyError, OSError], ids=["bug", "oserror"])
async def test_a_turn_that_raised_is_answered_200_and_apologised_for_once(rig: Rig, error: type[Exception]) -> None:
    rig.core.pipeline.engine = Exploding(rig.core.pipeline.engine, error)  # type: ignore[assignment]
    params = rig.fake.inbound_params(USER, "boom")
    first = await rig.post("/whatsapp", params)
    assert first.status_code == 200 and "<Response/>" in first.text  # before: 503, and Twilio gave up
    assert (await rig.post("/whatsapp", params)).status_code == 200  # Twilio's retry: a duplicate
    await rig.dispatcher.flush()
    assert rig.bodies() == ["Qualcosa è andato storto: riprova tra poco."]
    assert await rig.count(DeadLetter) == 1 and await rig.count(InboundEvent) == 1
    await rig.write("ciao")
    assert rig.bodies()[-2].startswith("Ciao! Sono Ascolto")
