"""Issue 13: the signed URL Twilio fetches an attachment from (an export, a chart) stops working after a while."""

from __future__ import annotations

from pathlib import Path

from storage import outbox
from storage.db import transaction
from tests.bot.channels.test_whatsapp import USER, rig_for
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import FakeClock

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS


async def test_a_file_link_expires(sqlite_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with rig_for(sqlite_url, clock) as rig:
        await rig.write("ciao")
        export = tmp_path / "richieste-tutte.csv"
        export.write_text("ticket,description\nK7M-R4P,Mi servono zucchine\n", encoding="utf-8")
        citizen = await rig.citizen()
        async with transaction(rig.core.sessions) as session:
            row = await outbox.enqueue(session, channel="whatsapp", recipient=USER, citizen_id=citizen.id, text="CSV", now=clock.now)
            row.attachment_path, row.attachment_type = str(export), "text/csv"
        await rig.dispatcher.flush()
        [url] = rig.fake.messages_to(USER)[-1]["media_urls"]
        clock.advance(minutes=59)
        assert (await rig.http.get(url)).status_code == 200  # Twilio fetches it at once; within the hour it works
        clock.advance(minutes=2)
        assert (await rig.http.get(url)).status_code == 404  # a link found later (a log, a forwarded message) opens nothing
        tampered = url.split("/")
        tampered[-2] = str(int(tampered[-2]) + 86_400)  # pushing the expiry forward breaks the signature
        assert (await rig.http.get("/".join(tampered))).status_code == 404
