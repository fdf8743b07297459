"""`ascolto run` without a channel token: the public pages start beside the console chat, and say where."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path

import httpx

from bot.app import build_core
from bot.channels.public import beside_console
from bot.config import WebSettings
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.net import free_port
from tests.helpers.public import seed

ROOT = Path(__file__).resolve().parents[3]


async def test_the_console_prints_the_address_of_the_pages_and_they_answer_while_it_runs(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(make_settings(sqlite_url, web=WebSettings(port=free_port())), clock=clock)
    await seed(core)
    out = io.StringIO()
    seen: list[int] = []

    async def chat() -> int:
        url = re.search(r"Le pagine pubbliche: (http://\S+)", out.getvalue())
        assert url is not None, out.getvalue()
        async with httpx.AsyncClient() as client:
            seen.append((await client.get(url.group(1) + "territorio/provincia/RA")).status_code)
        return 0

    try:
        assert await beside_console(core, chat, out) == 0
    finally:
        await core.close()
    assert seen == [200]


async def test_a_busy_port_is_said_and_the_chat_still_runs(sqlite_url: str, clock: FakeClock) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        core = await build_core(make_settings(sqlite_url, web=WebSettings(port=port)), clock=clock)
        out = io.StringIO()

        async def chat() -> int:
            return 0

        try:
            assert await beside_console(core, chat, out) == 0
        finally:
            await core.close()
    assert f"la porta {port} è già in uso" in out.getvalue()


def test_every_message_of_the_templates_is_in_both_catalogs() -> None:
    from conversations.i18n import catalog_path, po_messages

    used = {m for path in (ROOT / "bot" / "public" / "templates").glob("*.html") for m in re.findall(r"""t\(["'](public\.[a-z_]+)["']""", path.read_text())}
    used = {m for m in used if not m.endswith("_")} | {f"public.level_{level}" for level in ("regione", "provincia", "comune", "rete")}
    assert len(used) > 40
    for lang in ("it", "en"):
        missing = used - set(po_messages(catalog_path(ROOT / "locales", lang)))
        assert not missing, (lang, sorted(missing))
