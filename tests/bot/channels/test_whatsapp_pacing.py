"""Provider limits right by default: Twilio's documented throughput for a WhatsApp sender, and media paced on their own.

Twilio: "By default, each WhatsApp sender supports up to 80 messages per second (MPS) for
outbound traffic (text or media). Text-only throughput can be increased to 400 MPS on request
[...]. Media throughput can't be increased beyond 80 MPS."
(https://www.twilio.com/docs/whatsapp/best-practices-and-faqs, docs/deploy.md "WhatsApp throughput").
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.app import build_core
from bot.channels.whatsapp import build
from bot.config import WhatsAppSettings, load_settings
from handlers import Outgoing
from tests.conftest import make_settings, whatsapp_settings
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS, FakeTwilio
from tests.helpers.clock import FakeClock

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

TEXT_RATE = 40.0
MEDIA_RATE = 4.0
EACH = 12


def test_the_defaults_are_twilios_documented_throughput_for_a_sender() -> None:
    assert (WhatsAppSettings().messages_per_second, WhatsAppSettings().media_messages_per_second) == (80.0, 80.0)
    shipped = load_settings(Path(__file__).resolve().parents[3] / "config.toml").whatsapp
    assert (shipped.messages_per_second, shipped.media_messages_per_second) == (80.0, 80.0)


async def test_media_go_at_the_media_rate_while_text_goes_at_the_text_rate(sqlite_url: str, clock: FakeClock) -> None:
    async with FakeTwilio(rate=None) as fake:
        whatsapp = whatsapp_settings(
            fake, "https://ascolto.example.org", messages_per_second=TEXT_RATE, media_messages_per_second=MEDIA_RATE
        )
        core = await build_core(make_settings(sqlite_url, whatsapp=whatsapp), clock=clock)
        channel = await build(core)

        def row(n: int, *, media: bool) -> Outgoing:
            chart = {"attachment_path": "var/digests/chart.png", "attachment_type": "image/png"} if media else {}
            return Outgoing(outbox_id=n, recipient=f"+39333{n:07d}", text="ciao", last_inbound_at=clock.now, **chart)  # type: ignore[arg-type]

        try:
            # A digest round (a chart for each cooperative) and replies to citizens, all at once.
            started = time.monotonic()  # the fake's clock
            await asyncio.gather(*(channel.sender.send(row(n, media=n % 2 == 0)) for n in range(2 * EACH)))
        finally:
            assert channel.shutdown is not None
            await channel.shutdown()
            await core.close()
    media = sorted(m["received_at"] for m in fake.messages if m["media_urls"])
    text = sorted(m["received_at"] for m in fake.messages if not m["media_urls"])
    assert len(media) == len(text) == EACH
    # aiolimiter lets one bucket through at once (the rate's worth), then one every 1/rate s, never faster.
    # Measured from the start, not from the first arrival: a slow first connection on a busy machine
    # delays the burst, not the last message, and would shorten a first-to-last span below the bound.
    media_span = media[-1] - started
    assert media_span >= (EACH - MEDIA_RATE) / MEDIA_RATE * 0.9
    # Text is not held back behind the media: it is paced at its own, higher rate.
    assert text[-1] - text[0] < media_span / 2
