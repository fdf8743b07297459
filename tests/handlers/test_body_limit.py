"""`LimitedBody` at the ASGI level: what it refuses is refused without a single `receive`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from starlette.types import Message, Receive, Scope, Send

from handlers.body_limit import FORM, BodyLimit, LimitedBody

LIMIT = BodyLimit(max_bytes=100, media_types=FORM, seconds=0.2)
FORM_TYPE = "application/x-www-form-urlencoded"


class Client:
    """The server side of one request: the body messages to hand out, and what was answered."""

    def __init__(self, chunks: Sequence[bytes] = (b"a=1",), *, stall: bool = False) -> None:
        self.chunks = list(chunks)
        self.stall = stall
        self.receives = 0
        self.answer: list[Message] = []

    async def receive(self) -> Message:
        self.receives += 1
        if not self.chunks:
            if self.stall:
                await asyncio.sleep(3600)  # a client that never sends the rest
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks) or self.stall}

    async def send(self, message: Message) -> None:
        self.answer.append(message)

    @property
    def status(self) -> int:
        return int(self.answer[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.answer[0]["headers"])


class App:
    """The route behind the middleware: records the body it got, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(*headers: tuple[str, str]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/x", "headers": [(k.encode(), v.encode()) for k, v in headers]}


async def call(client: Client, *headers: tuple[str, str]) -> App:
    app = App()
    await LimitedBody(app, LIMIT)(scope(*headers), client.receive, client.send)
    return app


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "multipart/form-data; boundary=b", "application/x-www-form"]
)
async def test_another_media_type_is_415_without_a_receive(content_type: str | None) -> None:
    client = Client()
    headers = [("content-length", "3")] + ([("content-type", content_type)] if content_type else [])
    app = await call(client, *headers)
    assert client.status == 415 and client.receives == 0 and app.bodies == []
    assert client.headers[b"connection"] == b"close"


async def test_a_declared_length_over_the_limit_is_413_without_a_receive() -> None:
    client = Client([b"x" * 101])
    app = await call(client, ("content-type", FORM_TYPE), ("content-length", "101"))
    assert client.status == 413 and client.receives == 0 and app.bodies == []


async def test_a_body_without_a_length_is_read_up_to_the_limit_and_no_further() -> None:
    client = Client([b"x" * 60, b"x" * 41, b"never read"])
    app = await call(client, ("content-type", FORM_TYPE), ("transfer-encoding", "chunked"))
    assert client.status == 413 and client.receives == 2 and app.bodies == []


async def test_a_body_that_does_not_arrive_in_time_is_408() -> None:
    client = Client([b"a=1"], stall=True)
    app = await call(client, ("content-type", FORM_TYPE + "; charset=utf-8"), ("content-length", "50"))
    assert client.status == 408 and app.bodies == []


async def test_a_body_within_the_limit_reaches_the_route_whole() -> None:
    client = Client([b"a=1&", b"b=2&", b"x" * 92])
    app = await call(client, ("content-type", "Application/X-WWW-Form-Urlencoded; charset=utf-8"), ("content-length", "100"))
    assert client.status == 200 and app.bodies == [b"a=1&b=2&" + b"x" * 92]


async def test_the_route_may_answer_from_its_headers_before_any_byte_is_read() -> None:
    client = Client([b"a=1"])

    async def forbidden(scope: Scope, receive: Receive, send: Send) -> None:  # a wrong secret header
        await send({"type": "http.response.start", "status": 403, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await LimitedBody(forbidden, LIMIT)(scope(("content-type", FORM_TYPE)), client.receive, client.send)
    assert client.status == 403 and client.receives == 0


async def test_a_route_that_swallows_the_refusal_is_not_heard() -> None:
    client = Client([b"x" * 60, b"x" * 41])

    async def careless(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:  # as a route that answers 400 to "any malformed body" does
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    await LimitedBody(careless, LIMIT)(scope(("content-type", FORM_TYPE)), client.receive, client.send)
    assert client.status == 413 and len(client.answer) == 2
