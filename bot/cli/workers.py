"""`ascolto run --workers N`: one listening socket, N worker processes on it, each restarted when it dies."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Final

from bot.app import build_core
from bot.config import ConfigError, Settings
from storage.db import is_sqlite

logger = logging.getLogger(__name__)

RESTART_DELAY_SECONDS: Final = 1.0
STOP_GRACE_SECONDS: Final = 10.0
BACKLOG: Final = 2048


def check_scalable(settings: Settings) -> None:
    """Several workers need PostgreSQL, and Telegram by webhook: only one process may call getUpdates."""
    if is_sqlite(settings.database.url):
        raise ConfigError("run --workers: several workers need PostgreSQL (database.url = postgresql+asyncpg://…)")
    if settings.telegram.token is not None and settings.telegram.webhook_url is None:
        # Telegram answers 409 Conflict to a second concurrent getUpdates.
        raise ConfigError("run --workers: set telegram.webhook_url; long polling allows one process only")


def listen(host: str, port: int) -> socket.socket:
    """Bound once here and inherited by every worker: the kernel hands each connection to one of them,
    and a dead worker's share goes to the others at once (what gunicorn and `uvicorn --workers` do)."""
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (else 40 ms stalls).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


async def supervise(settings: Settings, *, count: int, config: Path | None) -> int:
    """Migrate once, then keep `count` workers running until SIGINT/SIGTERM."""
    check_scalable(settings)
    core = await build_core(settings, migrate_now=settings.database.migrate_on_start)
    await core.close()
    sock = listen(settings.web.host, settings.web.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    argv = [sys.executable, "-m", "bot", *(["--config", str(config)] if config else []), "run"]
    argv += ["--listen-fd", str(sock.fileno())]
    # Workers must not race on migrations: the supervisor has applied them.
    env = {**os.environ, "ASCOLTO_DATABASE__MIGRATE_ON_START": "false"}
    try:
        slots = [asyncio.create_task(_keep_running(index, argv, env, sock, stop)) for index in range(count)]
        logger.info("%s workers on %s:%s", count, settings.web.host, settings.web.port)
        await asyncio.gather(*slots)
    finally:
        sock.close()
    return 0


async def _keep_running(index: int, argv: list[str], env: dict[str, str], sock: socket.socket, stop: asyncio.Event) -> None:
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(*argv, env=env, pass_fds=(sock.fileno(),))
        logger.info("worker %s started (pid %s)", index, proc.pid)
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if stop.is_set():
            await _terminate(proc, waiter)
            return
        logger.error("worker %s (pid %s) exited with %s: restarting", index, proc.pid, proc.returncode)
        try:
            await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY_SECONDS)
        except TimeoutError:
            pass


async def _terminate(proc: asyncio.subprocess.Process, waiter: asyncio.Future[int]) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), timeout=STOP_GRACE_SECONDS)
    except TimeoutError:
        logger.error("worker pid %s did not stop in %ss: killing it", proc.pid, STOP_GRACE_SECONDS)
        proc.kill()
        await waiter


def inherited_socket(fd: int) -> socket.socket:
    """The supervisor's listening socket, in a worker."""
    return socket.socket(fileno=fd)
