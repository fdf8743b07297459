"""The webhook server: one Starlette app for every channel's routes, plus /healthz."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.core import Core
from storage import outbox
from storage.db import ping
from storage.models import OutboxStatus

logger = logging.getLogger(__name__)


def build_web_app(core: Core, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """Channel routes come from the adapters; the app adds the health check."""

    async def healthz(request: Request) -> JSONResponse:
        try:
            async with core.sessions() as session:
                await ping(session)
                counts = await outbox.count_by_status(session)
        except Exception:  # any database failure means "not healthy", never a 500 page
            logger.exception("health check: database unreachable")
            return JSONResponse({"database": "unreachable"}, status_code=503)
        return JSONResponse(
            {
                "database": "ok",
                "outbox_pending": counts.get(OutboxStatus.PENDING, 0),
                "outbox_failed": counts.get(OutboxStatus.FAILED, 0),
                "outbox_held": counts.get(OutboxStatus.HELD, 0),
            }
        )

    return Starlette(routes=[*routes, Route("/healthz", healthz, methods=["GET"])])


async def serve_web(
    app: Starlette, *, host: str, port: int, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Run uvicorn in this event loop until `stop` is set; on `sock` when given (inherited from `--workers`)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    await stop.wait()
    server.should_exit = True
    await task
