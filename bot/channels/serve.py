"""Starts the configured remote channels, the dispatcher and the webhook server, until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.core import Core
from bot.channels import telegram, whatsapp
from bot.channels.base import Channel
from bot.channels.public import public_routes
from bot.channels.web import build_web_app, serve_web

logger = logging.getLogger(__name__)


async def build_channels(core: Core) -> list[Channel]:
    """Every channel whose settings are present, Telegram first."""
    channels: list[Channel] = []
    if core.settings.telegram.token is not None:
        channels.append(await telegram.build(core))
    if core.settings.whatsapp.is_configured:
        channels.append(await whatsapp.build(core))
    return channels


Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A loop that runs until the event is set: the scheduler, handed in by whoever starts the service."""


async def serve(
    core: Core, *, stop: asyncio.Event | None = None, sock: socket.socket | None = None, workers: Sequence[Worker] = ()
) -> int:
    """Run every configured channel and `workers` until SIGINT/SIGTERM (or `stop`); `sock` is a listening socket shared by workers."""
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
    routes = [route for c in channels for route in c.routes] + public_routes(core)
    jobs = [asyncio.create_task(dispatcher.run_forever(stop), name="dispatcher")]
    jobs.append(asyncio.create_task(core.replayer().run_forever(stop), name="deferred-inbounds"))
    jobs += [asyncio.create_task(task(stop), name=f"{c.name}-task") for c in channels for task in c.tasks]
    if routes:
        web = build_web_app(core, routes)
        web_settings = core.settings.web
        jobs.append(
            asyncio.create_task(serve_web(web, host=web_settings.host, port=web_settings.port, stop=stop, sock=sock))
        )
    jobs += [asyncio.create_task(work(stop), name=f"worker-{i}") for i, work in enumerate(workers)]
    fetchers = {c.name: c.fetch_audio for c in channels if c.fetch_audio is not None}
    if core.settings.voice.enabled and fetchers:  # voice notes heard on this server, one at a time (issue 16)
        transcriber = core.transcriber(fetchers)
        core.wakeups.on_voice(transcriber.wake)
        jobs.append(asyncio.create_task(transcriber.run_forever(stop), name="transcriber"))
    logger.info("running: %s", ", ".join(c.name for c in channels))
    async with core.sessions() as session:
        if not await core.notifier.has_admins(session):  # once here, not at every need nobody covers
            logger.warning("no admins: needs nobody covers wait unseen; set [admin] in config.toml or use /nomina_admin")
    try:
        await stop.wait()
    finally:
        stop.set()
        await asyncio.gather(*jobs, return_exceptions=True)
        await core.background.drain()  # an on-demand digest started after a commit finishes before we go
        for channel in channels:
            if channel.shutdown is not None:
                await channel.shutdown()
    return 0
