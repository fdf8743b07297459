"""Commands typed as words with their arguments on WhatsApp ("esporta 7g"), per role; free text stays text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import Core
from storage.db import transaction
from storage.models import Citizen, Need
from tests.bot.test_admin import ADMIN_ID, _build, audits, send
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need, add_operator

WA = "whatsapp"
ADMIN = ADMIN_ID[WA]
OPERATOR = "+393330000002"
CITIZEN = "+393330000003"


@pytest.fixture
async def wa_core(sqlite_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    core = await _build(sqlite_url, clock, tmp_path)
    try:
        yield core
    finally:
        await core.close()


async def test_admin_types_commands_with_arguments_as_words_on_whatsapp(wa_core: Core, clock: FakeClock) -> None:
    core = wa_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(hours=1))
    [stats] = await send(core, ADMIN, "Statistiche 30g", channel=WA)
    assert "Richieste: 1" in stats
    [detail] = await send(core, ADMIN, "cooperativa cantiere", channel=WA)
    assert "Il Cantiere (cantiere)" in detail and "Europe/Rome" in detail
    assert any("Ultime" in t for t in await send(core, ADMIN, "audit 3", channel=WA))
    await send(core, ADMIN, "esporta 7g", channel=WA)
    assert [a.detail for a in await audits(core, "export")] == ["1 rows personal"]
    [ask] = await send(core, ADMIN, "annuncio comune Ravenna", channel=WA)
    assert "Ravenna" in ask and "testo dell'annuncio" in ask
    await send(core, ADMIN, "annulla", channel=WA)
    [confirm] = await send(core, ADMIN, "nomina_admin whatsapp +393330000009", channel=WA)
    assert "+393330000009" in confirm and "Confermi" in confirm
    await send(core, ADMIN, "no", channel=WA)
    # Arguments that do not check out leave the message to the conversation (the menu here).
    got = await send(core, ADMIN, "cooperativa che non esiste", channel=WA)
    assert not any("Territorio" in t or "Scrivi /cooperativa" in t for t in got)
    assert await audits(core, "command_refused") == []


async def test_operator_types_desk_commands_with_arguments_as_words_on_whatsapp(wa_core: Core, clock: FakeClock) -> None:
    core = wa_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, OPERATOR, channel=WA)
    t = (await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(hours=1))).ticket
    [detail] = await send(core, OPERATOR, f"richiesta {t}", channel=WA)
    assert f"Richiesta {t}" in detail and "Storia" in detail
    [claimed] = await send(core, OPERATOR, f"Prendo {t}", channel=WA)
    assert f"Fatto: {t} è vostra" in claimed
    [changed] = await send(core, OPERATOR, f"stato {t.lower().replace('-', '')} in corso chiamata la figlia", channel=WA)
    assert f"{t} ora è «in corso»" in changed
    assert any(f"Nota aggiunta a {t}" in m for m in await send(core, OPERATOR, f"nota {t} porta le chiavi", channel=WA))
    await send(core, OPERATOR, "esporta 7g", channel=WA)
    assert [a.detail for a in await audits(core, "export")] == ["1 rows"]
    # Alone, "stato" is a word of the home menu, and an unknown ticket is no command.
    assert not any("Scrivi" in m and "/stato" in m for m in await send(core, OPERATOR, "stato", channel=WA))
    assert not any("Non trovo" in m for m in await send(core, OPERATOR, "richiesta ZZZ-999", channel=WA))
    async with core.sessions() as session:
        need = (await session.execute(select(Need))).scalar_one()
    assert need.status == "in_corso"


async def test_citizen_changes_language_with_a_word_and_cannot_use_staff_words(wa_core: Core) -> None:
    core = wa_core
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    [done] = await send(core, CITIZEN, "lingua inglese", channel=WA)
    assert "in English" in done
    async with core.sessions() as session:
        assert (await session.execute(select(Citizen.language).where(Citizen.external_id == CITIZEN))).scalar_one() == "en"
    for text in ("esporta 7g", "statistiche 30g", "cooperativa cantiere", "annuncio comune Ravenna"):
        got = await send(core, CITIZEN, text, channel=WA)
        assert not any("CSV" in t or "Requests:" in t or "Territory" in t or "announcement" in t for t in got), text
    assert await audits(core, "command_refused") == []  # plain words are not attempts


INTAKE_TO_DESCRIPTION = ("ciao", "1", "1", "5")
AFTER_DESCRIPTION = ("Ravenna", "1", "1", "1")


@pytest.mark.parametrize(
    ("who", "description"),
    [
        pytest.param(CITIZEN, "annuncio importante per la spesa", id="citizen-annuncio"),
        pytest.param(CITIZEN, "stato di salute precario, serve la spesa", id="citizen-stato"),
        pytest.param(OPERATOR, "stato di salute precario, serve la spesa", id="operator-stato"),
        pytest.param(ADMIN, "esporta 7g non so cosa voglia dire", id="admin-esporta"),
        pytest.param(ADMIN, "statistiche 30g", id="admin-valid-arguments-at-a-free-text-question"),
        pytest.param(CITIZEN, "lingua en", id="citizen-lingua-at-a-free-text-question"),
    ],
)
async def test_a_description_that_starts_with_a_command_word_stays_a_description(
    wa_core: Core, who: str, description: str
) -> None:
    core = wa_core
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, OPERATOR, channel=WA)
    for text in INTAKE_TO_DESCRIPTION:
        await send(core, who, text, channel=WA)
    [next_question] = await send(core, who, description, channel=WA)
    assert "comune" in next_question.lower()
    for text in AFTER_DESCRIPTION:
        await send(core, who, text, channel=WA)
    async with core.sessions() as session:
        need = (await session.execute(select(Need))).scalar_one()
    assert need.description == description
    assert await audits(core, "export") == [] and await audits(core, "staff_read") == []


async def test_words_with_arguments_are_not_commands_on_telegram(wa_core: Core) -> None:
    core = wa_core
    got = await send(core, ADMIN_ID["telegram"], "statistiche 30g", channel="telegram")
    assert not any("Richieste:" in t for t in got)
    assert any("Richieste:" in t for t in await send(core, ADMIN_ID["telegram"], "/statistiche 30g", channel="telegram"))


async def test_an_announcement_that_starts_with_annuncio_is_the_text_and_keeps_its_audience(wa_core: Core) -> None:
    core = wa_core
    now = core.pipeline.clock()
    async with transaction(core.sessions) as session:
        for i in range(3):
            session.add(Citizen(channel=WA, external_id=f"+3934000000{i}", consent_version=1, created_at=now))
    await send(core, ADMIN, "annuncio", channel=WA)
    [preview] = await send(core, ADMIN, "Annuncio: domenica 10-12 sportello aperto", channel=WA)
    assert "Annuncio: domenica 10-12 sportello aperto" in preview and "3 persone" in preview
    # A command in the middle answers, then the preview comes back with the same audience.
    *_, again = await send(core, ADMIN, "/audit 1", channel=WA)
    assert "3 persone" in again
