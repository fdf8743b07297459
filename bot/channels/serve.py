"""Starts the configured remote channels, the dispatcher and the webhook server, until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from bot.app import Core
from bot.channels.web import build_web_app, serve_web
from handlers import Sender

logger = logging.getLogger(__name__)

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A background loop that runs until the stop event is set (e.g. Telegram long polling)."""


@dataclass(slots=True)
class Channel:
    """What a channel brings to the running app; built by `bot/<channel>_channel.py`."""

    name: str
    sender: Sender
    routes: list[BaseRoute] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    startup: Callable[[], Awaitable[None]] | None = None
    shutdown: Callable[[], Awaitable[None]] | None = None


async def build_channels(core: Core) -> list[Channel]:
    channels: list[Channel] = []
    if core.settings.telegram.token is not None:
        from bot.channels.telegram import build as build_telegram

        channels.append(await build_telegram(core))
    if core.settings.whatsapp.is_configured:
        from bot.channels.whatsapp import build as build_whatsapp

        channels.append(await build_whatsapp(core))
    return channels


async def serve(core: Core, *, stop: asyncio.Event | None = None, sock: socket.socket | None = None) -> int:
    """Run every configured channel until SIGINT/SIGTERM (or `stop`); `sock` is a listening socket shared by workers."""
    stop = stop or asyncio.Event()
    channels = await build_channels(core)
    if not channels:
        logger.error("no channel configured")
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    dispatcher = core.dispatcher({c.name: c.sender for c in channels})
    for channel in channels:
        if channel.startup is not None:
            await channel.startup()
    routes = [route for c in channels for route in c.routes]
    jobs = [asyncio.create_task(dispatcher.run_forever(stop), name="dispatcher")]
    jobs += [asyncio.create_task(task(stop), name=f"{c.name}-task") for c in channels for task in c.tasks]
    if routes:
        web = build_web_app(core, routes)
        web_settings = core.settings.web
        jobs.append(
            asyncio.create_task(serve_web(web, host=web_settings.host, port=web_settings.port, stop=stop, sock=sock))
        )
    if core.settings.scheduler.enabled:
        from bot.leader import run_scheduler

        # On PostgreSQL only the elected worker schedules (bot/leader.py); on SQLite it just runs.
        jobs.append(asyncio.create_task(run_scheduler(core, stop), name="scheduler"))
    logger.info("running: %s", ", ".join(c.name for c in channels))
    try:
        await stop.wait()
    finally:
        stop.set()
        await asyncio.gather(*jobs, return_exceptions=True)
        await core.pipeline.drain()  # an on-demand digest started after a commit finishes before we go
        for channel in channels:
            if channel.shutdown is not None:
                await channel.shutdown()
    return 0
