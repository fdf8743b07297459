"""Issue 7: admins create, show, edit and deactivate cooperatives from the chat, confirmed and audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_core
from bot.core import Core
from bot.config import AdminSettings
from storage import cooperatives
from storage.cooperatives import CooperativeSpec
from tests.bot.test_admin import ADMIN_ID, audits, send
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.coops import CERVIA, RAVENNA, add_coop
from tests.helpers.entropy import seeded


@pytest.fixture
async def core(db_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    admin = AdminSettings(console_names=[ADMIN_ID["console"]], export_dir=tmp_path / "exports")
    built = await build_core(make_settings(db_url, admin=admin), clock=clock)
    built.pipeline.entropy = seeded()
    try:
        yield built
    finally:
        await built.pipeline.drain()
        await built.close()


async def _spec(core: Core, slug: str) -> CooperativeSpec | None:
    async with core.sessions() as session:
        row = await cooperatives.by_slug(session, slug=slug)
        return None if row is None else await cooperatives.spec_of(session, row=row)


async def test_admin_creates_a_cooperative_after_a_summary(core: Core) -> None:
    [ask] = await send(core, "boss", "/nuova_cooperativa")
    assert "Come si chiama" in ask
    await send(core, "boss", "Cooperativa Il Faro")
    [retry] = await send(core, "boss", "Il Faro!")  # not a slug
    assert "cantiere-ravenna" in retry
    [ask_place] = await send(core, "boss", "faro-ravenna")
    assert "provincia RA" in ask_place
    [retry] = await send(core, "boss", "Ravenna, Atlantide")
    assert "Atlantide" in retry and "provincia RA" in retry  # a kind example, nothing lost
    [ask_cats] = await send(core, "boss", f"Ravenna, {CERVIA}, provincia fc, regione emilia-romagna")
    assert "spesa" in ask_cats
    [retry] = await send(core, "boss", "spesa, spessa")
    assert "spessa" in retry
    [ask_cron] = await send(core, "boss", "spesa, salute")
    assert "Con - resta ogni lunedì alle 8" in ask_cron
    [retry] = await send(core, "boss", "ogni lunedì")
    assert "Manca l'ora" in retry
    [ask_zone] = await send(core, "boss", "dal lunedì al venerdì alle 18:30")
    assert "fuso orario" in ask_zone and "Europe/Rome" in ask_zone
    [retry] = await send(core, "boss", "Marte/Olympus")
    assert "Marte/Olympus" in retry and "Europe/Rome" in retry
    [ask_language] = await send(core, "boss", "europe/london")  # zoneinfo's spelling is restored
    assert "In che lingua" in ask_language
    [summary] = await send(core, "boss", "English")
    assert "Cooperativa Il Faro" in summary and "Ravenna (039014)" in summary and "provincia FC" in summary
    assert "regione Emilia-Romagna" in summary and "Riepilogo: dal lunedì al venerdì alle 18:30 (Europe/London), in English" in summary and "Confermi" in summary
    assert await _spec(core, "faro-ravenna") is None  # nothing before "sì"
    assert await send(core, "boss", "sì") == ["Fatto."]
    spec = await _spec(core, "faro-ravenna")
    assert spec is not None and spec.name == "Cooperativa Il Faro" and spec.digest_cron == "30 18 * * mon-fri"
    assert (spec.timezone, spec.language) == ("Europe/London", "en")
    assert set(spec.categories) == {"spesa", "salute"}
    assert {(str(k), c) for k, c in spec.territory} == {
        ("comune", RAVENNA),
        ("comune", CERVIA),
        ("provincia", "FC"),
        ("regione", "Emilia-Romagna"),
    }
    [created] = await audits(core, "cooperative_created")
    assert created.actor.startswith("admin:") and created.cooperative_id is not None


async def test_default_digest_and_taken_slug(core: Core) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await send(core, "boss", "/nuova_cooperativa")
    await send(core, "boss", "Un'altra")
    [retry] = await send(core, "boss", "cantiere")
    assert "c'è già" in retry
    await send(core, "boss", "altra")
    await send(core, "boss", "provincia RA")
    await send(core, "boss", "spesa")
    await send(core, "boss", "-")  # the default digest
    await send(core, "boss", "-")  # the default time zone
    [summary] = await send(core, "boss", "1")  # Italiano
    assert "ogni lunedì alle 8 (Europe/Rome), in Italiano" in summary
    assert await send(core, "boss", "no") != ["Fatto."]
    assert await _spec(core, "altra") is None  # "no" changes nothing
    assert await audits(core, "cooperative_created") == []


async def test_show_and_edit_each_field(core: Core) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    [shown] = await send(core, "boss", "/cooperativa cantiere")
    assert "Il Cantiere" in shown and "Ravenna (039014)" in shown and "attivo" in shown
    assert [a.detail for a in await audits(core, "staff_read")] == ["cooperativa"]
    [usage] = await send(core, "boss", "/cooperativa nessuna")
    assert "/cooperativa cantiere-ravenna" in usage

    [ask] = await send(core, "boss", "/modifica_cooperativa cantiere territorio")
    assert "Ravenna (039014)" in ask
    [summary] = await send(core, "boss", f"{RAVENNA}, {CERVIA}")
    assert "Cervia" in summary and "Confermi" in summary
    assert await send(core, "boss", "sì") == ["Fatto."]
    spec = await _spec(core, "cantiere")
    assert spec is not None and {c for _, c in spec.territory} == {RAVENNA, CERVIA}

    await send(core, "boss", "/modifica_cooperativa cantiere categorie")
    [summary] = await send(core, "boss", "salute")
    assert "salute" in summary
    assert await send(core, "boss", "sì") == ["Fatto."]
    spec = await _spec(core, "cantiere")
    assert spec is not None and spec.categories == ("salute",)

    await send(core, "boss", "/modifica_cooperativa cantiere orario")
    [retry] = await send(core, "boss", "99 8 * * mon")
    assert "5 campi" in retry
    [retry] = await send(core, "boss", "0 8 * *")  # four fields
    assert "5 campi" in retry
    [summary] = await send(core, "boss", "0 7 * * tue")
    assert "da ogni lunedì alle 8 a ogni martedì alle 7" in summary
    assert await send(core, "boss", "sì") == ["Fatto."]
    spec = await _spec(core, "cantiere")
    assert spec is not None and spec.digest_cron == "0 7 * * tue" and {c for _, c in spec.territory} == {RAVENNA, CERVIA}

    [ask] = await send(core, "boss", "/modifica_cooperativa cantiere fuso")
    assert "Europe/Rome" in ask
    [retry] = await send(core, "boss", "-")  # editing, "-" is no time zone
    assert "Continente/Città" in retry
    [summary] = await send(core, "boss", "America/Sao_Paulo")
    assert "da Europe/Rome a America/Sao_Paulo" in summary
    assert await send(core, "boss", "sì") == ["Fatto."]

    [ask] = await send(core, "boss", "/modifica_cooperativa cantiere lingua")
    assert "in Italiano" in ask
    [summary] = await send(core, "boss", "inglese")
    assert "da Italiano a English" in summary
    assert await send(core, "boss", "no") != ["Fatto."]
    await send(core, "boss", "/modifica_cooperativa cantiere language")
    await send(core, "boss", "2")
    assert await send(core, "boss", "sì") == ["Fatto."]

    spec = await _spec(core, "cantiere")
    assert spec is not None and (spec.timezone, spec.language, spec.digest_cron) == ("America/Sao_Paulo", "en", "0 7 * * tue")
    [shown] = await send(core, "boss", "/cooperativa cantiere")
    assert "ogni martedì alle 7 (America/Sao_Paulo), in English" in shown
    edited = ["territory", "categories", "digest", "timezone", "language"]
    assert [a.detail for a in await audits(core, "cooperative_edited")] == edited

    [usage] = await send(core, "boss", "/modifica_cooperativa cantiere colore")
    assert "territorio, categorie, orario, fuso o lingua" in usage


async def test_deactivate_with_confirmation(core: Core) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    [ask] = await send(core, "boss", "/disattiva_cooperativa cantiere")
    assert "Il Cantiere" in ask and "Confermi" in ask
    await send(core, "boss", "no")
    spec = await _spec(core, "cantiere")
    assert spec is not None and spec.is_active
    await send(core, "boss", "/disattiva_cooperativa cantiere")
    assert await send(core, "boss", "sì") == ["Fatto."]
    spec = await _spec(core, "cantiere")
    assert spec is not None and not spec.is_active
    assert len(await audits(core, "cooperative_deactivated")) == 1
    [usage] = await send(core, "boss", "/disattiva_cooperativa cantiere")  # already inactive
    assert "/disattiva_cooperativa cantiere-ravenna" in usage


async def test_an_ambiguous_comune_asks_for_the_code(core: Core) -> None:
    rules_gazetteer = core.pipeline.gazetteer
    names: dict[str, list[str]] = {}
    for c in rules_gazetteer:
        names.setdefault(c.name.split()[0], []).append(c.istat_code)
    ambiguous = next((n for n, codes in names.items() if len(codes) > 1 and not rules_gazetteer.lookup(n).is_exact and rules_gazetteer.lookup(n).candidates), None)
    if ambiguous is None:
        pytest.skip("the test gazetteer has no ambiguous name")
    await send(core, "boss", "/nuova_cooperativa")
    await send(core, "boss", "Prova")
    await send(core, "boss", "prova")
    [retry] = await send(core, "boss", ambiguous)
    assert "codice ISTAT" in retry
    assert any(code in retry for code in names[ambiguous])


@pytest.mark.parametrize(
    "command",
    [
        "/nuova_cooperativa",
        "/cooperativa cantiere",
        "/modifica_cooperativa cantiere orario",
        "/modifica_cooperativa cantiere fuso",
        "/modifica_cooperativa cantiere lingua",
        "/disattiva_cooperativa cantiere",
    ],
)
async def test_citizens_get_the_unknown_command_answer(core: Core, command: str) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    unknown = await send(core, "cit-1", "/xyzzy")
    await send(core, "cit-1", "/annulla")
    assert await send(core, "cit-1", command) == unknown
    assert len(await audits(core, "command_refused")) == 1
