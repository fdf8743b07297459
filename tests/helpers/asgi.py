"""An ASGI app decided after the server is listening: a webhook's public URL needs the server's port first."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class LateApp:
    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)
