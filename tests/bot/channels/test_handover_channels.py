"""Issue 15 (every need reaches someone, the operators' side) end to end: Telegram through PTB and the
fake Bot API, WhatsApp through signed webhooks and FakeTwilio, the real pipeline and store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import AdminSettings
from storage.models import Need
from tests.bot.channels.test_telegram import SCALED, running_telegram
from tests.bot.channels.test_whatsapp import BY_NUMBERS, USER, WINDOW_TEMPLATE, rig_for
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import FakeClock
from tests.helpers.coops import CERVIA, RAVENNA, add_coop, add_operator

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

LUCIA, PIETRO = 5001, 5002
ADMIN, OPERATOR = "+393330000001", "+393330000002"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood=SCALED) as running:
        yield running


async def test_telegram_claim_then_transfer_and_the_old_holder_loses_the_need(sqlite_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(sqlite_url, fake) as tg:
        cantiere = await add_coop(tg.core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
        rete = await add_coop(tg.core, "rete", comuni=(CERVIA,), name="Rete Romagna")
        await add_operator(tg.core, cantiere, str(LUCIA), channel="telegram")
        await add_operator(tg.core, rete, str(PIETRO), channel="telegram")
        for text in ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa", "Ravenna", "1", "1", "1"):
            await tg.say(text)
        assert "Una cooperativa del tuo territorio ti contatterà" in tg.texts()[-1]
        async with tg.core.sessions() as session:
            t = (await session.execute(select(Need.ticket))).scalar_one()

        await tg.tap(tg.t("op.option_claim"), LUCIA)  # the button under the routed need
        assert f"la tua richiesta {t} è stata presa in carico da Il Cantiere" in tg.texts()[-1]
        await tg.say(f"/trasferisci {t} rete serve chi lavora a Cervia", LUCIA)
        assert f"Fatto: {t} ora la segue Rete Romagna" in tg.texts(LUCIA)[-1]
        handed = tg.texts(PIETRO)[-1]
        assert f"Il Cantiere vi passa la richiesta {t}" in handed and "serve chi lavora a Cervia" in handed
        assert f"La tua richiesta {t} ora la segue Rete Romagna" in tg.texts()[-1]

        await tg.say(f"/richiesta {t}", LUCIA)
        assert tg.texts(LUCIA)[-1] == f"Non trovo la richiesta {t} tra quelle della tua cooperativa."
        await tg.say(f"/richiesta {t}", PIETRO)
        assert "passata a Rete Romagna (operatore #" in tg.texts(PIETRO)[-1]
        assert sum(f"Nuova richiesta {t}" in m or f"vi passa la richiesta {t}" in m for m in tg.texts(PIETRO)) == 1


async def test_whatsapp_nobody_covers_admin_assigns_operator_claims_resolves_and_reopens(db_url: str, clock: FakeClock) -> None:
    admins = AdminSettings(whatsapp_numbers=[ADMIN])
    async with rig_for(db_url, clock, admin=admins, window_template_sid=WINDOW_TEMPLATE) as rig:
        for text in BY_NUMBERS:
            await rig.write(text)
        done = rig.bodies()[-1]
        assert "Stiamo cercando chi può aiutarti: ti scriviamo appena qualcuno la prende in carico" in done
        async with rig.core.sessions() as session:
            t = (await session.execute(select(Need.ticket))).scalar_one()

        rete = await add_coop(rig.core, "rete", comuni=(CERVIA,), name="Rete Romagna")
        await add_operator(rig.core, rete, OPERATOR, channel="whatsapp")
        await rig.write("/richieste", sender=OPERATOR)  # the operator wrote: inside the 24-hour window
        await rig.write(f"/assegna {t} rete", sender=ADMIN)
        assert f"Fatto: {t} è andata agli operatori di Rete Romagna" in rig.fake.messages_to(ADMIN)[-1]["body"]
        notice = rig.fake.messages_to(OPERATOR)[-1]["body"] or ""
        assert notice.startswith(f"Nuova richiesta {t}") and f"/prendo {t}" in notice

        await rig.write(f"prendo {t}", sender=OPERATOR)  # on WhatsApp, in words
        assert f"è stata presa in carico da Rete Romagna" in rig.bodies()[-1]
        await rig.write(f"stato {t} risolta", sender=OPERATOR)
        await rig.write(f"riapri {t} manca ancora la consegna", sender=OPERATOR)
        assert f"Fatto: {t} è di nuovo aperta" in (rig.fake.messages_to(OPERATOR)[-1]["body"] or "")
        assert f"La tua richiesta {t} è di nuovo aperta" in rig.bodies()[-1]
        async with rig.core.sessions() as session:
            assert (await session.execute(select(Need.status))).scalar_one() == "in_corso"
