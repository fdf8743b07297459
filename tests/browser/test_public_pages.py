"""The public pages in a real browser: headless Chromium (Debian's package) driven by Playwright.

Each page is loaded, links are followed, a CSV is downloaded and its numbers checked against the
database, and axe-core (vendored in tests/browser/vendor) finds no serious violation. Without
Chromium these tests skip; `.ci/run` installs it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.app import build_core
from bot.channels.public import listening_socket, public_routes
from bot.channels.web import build_web_app, serve_web
from bot.core import Core
from bot.jobs.demand import refresh_demand
from storage.models import ComuneRow, Need
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.public import seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERIOUS = {"serious", "critical"}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium; .ci/run does it)")


@pytest.fixture(params=["from the needs", "from the summary"])
async def site(request: pytest.FixtureRequest, sqlite_url: str, clock: FakeClock) -> AsyncIterator[tuple[str, Core]]:
    """The pages before the monthly summary is filled, and after (`bot.jobs.demand`): the same walk, the same numbers."""
    core = await build_core(make_settings(sqlite_url), clock=clock)
    await seed(core)
    if request.param == "from the summary":
        assert await refresh_demand(core, clock()) > 0
    sock = listening_socket("127.0.0.1", 0)
    assert sock is not None
    stop = asyncio.Event()
    server = asyncio.create_task(serve_web(build_web_app(core, public_routes(core)), host="127.0.0.1", port=0, stop=stop, sock=sock))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", core
    finally:
        stop.set()
        await server
        sock.close()
        await core.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True, accept_downloads=True
        )
        try:
            yield context
        finally:
            await context.close()


async def _axe(page: Any) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"] if v["impact"] in SERIOUS]


async def test_walk_the_pages_follow_the_links_and_download_the_csv(site: tuple[str, Core], browser: Any) -> None:
    base, core = site
    page = await browser.new_page()
    await page.goto(base + "/")
    assert await page.inner_text("h1") == "Cosa chiedono i territori"
    assert await _axe(page) == []
    await page.click("text=Ravenna >> nth=0")  # the province comes before the comune
    await page.wait_for_url("**/territorio/provincia/RA")
    assert await page.inner_text("h1") == "Provincia: Ravenna"
    assert await page.locator("svg[role=img] title").count() == 3
    assert await page.locator("table caption").count() >= 4
    assert await _axe(page) == []

    async with page.expect_download() as info:
        await page.click("text=Scarica i dati (CSV)")
    download = await info.value
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    async with core.sessions() as session:
        lonely = await session.scalar(
            select(func.count())
            .select_from(Need)
            .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
            .where(
                col(ComuneRow.province_code) == "RA",
                col(Need.category_slug) == "solitudine",
                col(Need.created_at) >= datetime(2026, 8, 31, 22, tzinfo=UTC),  # 1 September in Rome
                col(Need.created_at) < datetime(2026, 9, 30, 22, tzinfo=UTC),
            )
        )
    row = next(r for r in rows if r["categoria"] == "solitudine" and r["mese_inizio"] == "2026-09-01")
    assert int(row["richieste"]) == lonely == 7
    for r in rows:
        assert r["richieste"] == "" or int(r["richieste"]) == 0 or int(r["richieste"]) >= 5

    await page.click("text=Analisi dei bisogni (da stampare)")
    await page.wait_for_url("**/analisi-dei-bisogni")
    assert await page.inner_text("h1") == "Analisi dei bisogni"
    assert await _axe(page) == []
    await page.emulate_media(media="print")
    assert not await page.locator("header").is_visible()  # the print stylesheet drops the header
    await page.emulate_media(media="screen")

    await page.goto(base + "/territorio/provincia/RA")
    await page.click("table >> text=Ravenna")
    await page.wait_for_url("**/territorio/comune/039014")
    assert await page.inner_text("h1") == "Comune: Ravenna"
    await page.click("text=English")
    assert await page.inner_text("h1") == "Comune: Ravenna" and await page.locator("html[lang=en]").count() == 1
    assert await _axe(page) == []

    await page.goto(base + "/dati")
    assert await _axe(page) == []
    await page.click("text=Catalogo DCAT-AP_IT (JSON-LD)")
    assert "dcatapit:Catalog" in await page.content()


async def test_the_accessibility_check_can_fail(browser: Any) -> None:
    page = await browser.new_page()
    await page.set_content('<html lang="it"><body><main><svg role="img"><rect width="5" height="5"/></svg></main></body></html>')
    assert any(v.startswith("svg-img-alt") for v in await _axe(page))
