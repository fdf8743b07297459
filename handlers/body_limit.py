"""Request bodies bounded before anything reads them: by size (413), media type (415) and time (408).

Starlette reads whatever body a client sends, and our webhooks used to parse all of it before
looking at the signature: an unsigned 15 MB form of 1.5 M fields held the event loop, and
/healthz with it, for 13.8 s. `LimitedBody` wraps one route (Starlette's per-route middleware):
a wrong Content-Type or a declared Content-Length over the limit is refused from the headers
alone, before the route runs and without reading a byte. Otherwise the route runs and reads as
it likes (a secret in a header is still checked before the body), through a `receive` that
stops at the limit (a chunked body declares no length) and at a deadline (a client may trickle
a byte at a time); then the refusal replaces whatever the route would have answered. Every
refusal closes the connection, so the rest of the body is never read.

Neither uvicorn nor Starlette bounds a body; the one ASGI package for it on PyPI
(content-size-limit-asgi, last released 2020) checks neither the declared length nor the type
nor time, so these few lines are ours.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM: Final = frozenset({"application/x-www-form-urlencoded"})
JSON: Final = frozenset({"application/json"})


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """What one route accepts: at most `max_bytes`, of one of `media_types`, received within `seconds`."""

    max_bytes: int
    media_types: frozenset[str]
    seconds: float = 10.0


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class LimitedBody:
    """ASGI middleware for one route: the route never gets more than its `BodyLimit` allows."""

    def __init__(self, app: ASGIApp, limit: BodyLimit) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = _refusal(Headers(scope=scope), self.limit)
        if status is None:
            guard = _Guard(self.limit, receive, send)
            try:
                await self.app(scope, guard.receive, guard.send)
            except _Refused:
                pass  # the route did not catch it; a route that did answered into `guard.send`, unheard
            if guard.refused is None or guard.started:
                return
            status = guard.refused
        # Connection: close, so uvicorn drops the connection instead of reading the rest.
        await Response(status_code=status, headers={"Connection": "close"})(scope, receive, send)


class _Guard:
    """The `receive` and `send` a route gets: the body counted and timed, the answer withheld once refused."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self.limit, self._receive, self._send = limit, receive, send
        self.deadline = asyncio.get_running_loop().time() + limit.seconds
        self.size = 0
        self.complete = False
        self.refused: int | None = None
        self.started = False

    async def receive(self) -> Message:
        if self.refused is not None:
            raise _Refused(self.refused)
        if self.complete:  # after the body only a disconnect comes, whenever it comes
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.refused = 408
            raise _Refused(408) from None
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit.max_bytes:
                self.refused = 413
                raise _Refused(413)
            self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused is not None:
            return  # the route's answer to a body we refused: ours replaces it
        self.started = True
        await self._send(message)


def _refusal(headers: Headers, limit: BodyLimit) -> int | None:
    """415 or 413 from the headers alone, or None."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in limit.media_types:
        return 415
    declared = headers.get("content-length")
    # uvicorn (h11, httptools) has already refused a Content-Length that is not a number.
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit.max_bytes:
        return 413
    return None
