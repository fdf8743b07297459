"""The public pages render the protected figures: small counts never appear, open data matches the database."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from bot.channels.public import public_routes
from bot.channels.web import build_web_app
from bot.core import Core
from tests.helpers.coops import CERVIA, RAVENNA, RUSSI
from tests.helpers.public import seed


@pytest.fixture
async def client(core: Core) -> httpx.AsyncClient:
    await seed(core)
    app = build_web_app(core, public_routes(core))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_province_page_shows_its_figures_and_hides_the_small_ones(client: httpx.AsyncClient) -> None:
    page = await client.get("/territorio/provincia/RA")
    assert page.status_code == 200
    html = page.text
    assert "Provincia: Ravenna" in html and "Spesa e beni di prima necessità" in html
    assert "&lt; 5" in html  # the two housing requests of Cervia
    assert 'role="img"' in html and "<title" in html  # the charts, with their tables
    assert "<caption>Richieste per argomento e mese</caption>" in html
    assert "Altri comuni (RA)" in html  # Russi's one request, rolled up
    assert "/territorio/comune/039014" in html
    assert "T0" not in html and "Mi serve aiuto" not in html  # no ticket, no description


async def test_a_small_comune_sends_you_to_its_province(client: httpx.AsyncClient) -> None:
    page = await client.get(f"/territorio/comune/{RUSSI}")
    assert page.status_code == 200
    assert "meno di 5 richieste" in page.text and "/territorio/provincia/RA" in page.text


async def test_pages_speak_english_and_unknown_places_are_404(client: httpx.AsyncClient) -> None:
    page = await client.get("/territorio/provincia/RA?lang=en")
    assert 'lang="en"' in page.text and "Uncovered demand" in page.text
    assert (await client.get("/territorio/provincia/ZZ")).status_code == 404
    assert (await client.get("/territorio/nazione/IT")).status_code == 404


async def test_the_csv_has_the_database_numbers_and_nothing_small(client: httpx.AsyncClient) -> None:
    response = await client.get("/dati/provincia/RA/domanda.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    spesa = next(r for r in rows if r["categoria"] == "spesa" and r["mese_inizio"] == "2026-10-01")
    # 17 requests, but October's only other one is the hidden 2: shown, 17 would give the 2 away from the total.
    assert spesa["richieste"] == "" and spesa["richieste_nota"] == "n.d." and spesa["mese_fine"] == "2026-10-31"
    lonely = next(r for r in rows if r["categoria"] == "solitudine" and r["mese_inizio"] == "2026-09-01")
    assert lonely["richieste"] == "7"
    # 7 uncovered, but with Russi's one uncovered request the total of 8 would give that one away.
    assert lonely["scoperte"] == "" and lonely["scoperte_nota"] == "n.d."
    casa = next(r for r in rows if r["categoria"] == "casa" and r["mese_inizio"] == "2026-10-01")
    assert casa["richieste"] == "" and casa["richieste_nota"] == "< 5"
    for row in rows:
        assert row["richieste"] == "" or int(row["richieste"]) == 0 or int(row["richieste"]) >= 5
    comuni = list(csv.DictReader(io.StringIO((await client.get("/dati/provincia/RA/comuni.csv")).text)))
    assert {r["comune_istat"] for r in comuni} == {RAVENNA, CERVIA, ""}  # text, leading zero kept
    assert '"039014"' in (await client.get("/dati/provincia/RA/comuni.csv")).text


async def test_json_and_the_dcat_ap_it_catalogue(client: httpx.AsyncClient) -> None:
    data = (await client.get("/dati/rete/cantiere/domanda.json")).json()
    assert data["territorio"] == {"livello": "rete", "codice": "cantiere", "nome": "Cantiere del Welfare"}
    assert data["licenza"]["nome"] == "CC BY 4.0" and data["periodo"]["fine"] == "2026-10-31"
    catalog = json.loads((await client.get("/dati/catalogo.jsonld")).text)
    assert "dcatapit:Catalog" in catalog["@type"]
    ids = {d["dct:identifier"] for d in catalog["dcat:dataset"]}
    assert "ascolto:domanda:provincia:RA" in ids and f"ascolto:comuni:comune:{RAVENNA}" in ids
    dist = catalog["dcat:dataset"][0]["dcat:distribution"][0]
    assert dist["dct:license"]["@id"] == "https://creativecommons.org/licenses/by/4.0/"


async def test_the_dossier_is_a_printable_public_document(client: httpx.AsyncClient) -> None:
    page = await client.get("/territorio/provincia/RA/analisi-dei-bisogni")
    assert page.status_code == 200
    assert "Analisi dei bisogni" in page.text and "art. 55" in page.text and "&lt; 5" in page.text
    css = (await client.get("/static/site.css")).text
    assert "@media print" in css
