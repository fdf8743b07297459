"""The public pages on the web server: mounted next to the webhooks, or alone beside the console chat."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TextIO

from starlette.routing import BaseRoute

from bot.channels.web import build_web_app, serve_web
from bot.core import Core
from bot.public import build_site
from conversations import Msg

logger = logging.getLogger(__name__)


def public_routes(core: Core) -> list[BaseRoute]:
    """The site's routes when `[public] enabled`, else none."""
    if not core.settings.public.enabled:
        return []
    return build_site(core.settings, core.sessions, core.translator, core.clock).routes()


def listening_socket(host: str, port: int) -> socket.socket | None:
    """Bound before uvicorn starts, so a port already in use is a message, not an exit of the whole process."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def beside_console(core: Core, chat: Callable[[], Awaitable[int]], out: TextIO) -> int:
    """`ascolto run` without remote channels: the public pages on `[web] host:port` while the console chat runs."""
    routes = public_routes(core)
    web = core.settings.web
    sock = listening_socket(web.host, web.port) if routes else None
    if sock is None:
        if routes:
            out.write(core.translator.format(Msg("public.console_port_busy", {"port": str(web.port)})) + "\n")
        return await chat()
    host = f"[{web.host}]" if ":" in web.host else web.host
    out.write(core.translator.format(Msg("public.console_address", {"url": f"http://{host}:{sock.getsockname()[1]}/"})) + "\n")
    out.flush()
    stop = asyncio.Event()
    server = asyncio.create_task(serve_web(build_web_app(core, routes), host=web.host, port=web.port, stop=stop, sock=sock))
    try:
        return await chat()
    finally:
        stop.set()
        await asyncio.gather(server, return_exceptions=True)
        sock.close()
