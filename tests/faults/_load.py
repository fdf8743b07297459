"""What the fault tests share: a TCP proxy the test can cut, and citizens that write like a provider redelivers."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakes.twilio_api import FakeTwilio

INTAKE = ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa, grazie", "Ravenna", "1", "1", "1")
"""A whole WhatsApp intake by numbers (tests/bot/channels/test_whatsapp.py): nine messages, one need."""


class TcpProxy:
    """Forwards 127.0.0.1:port to a server; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.is_down = False
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        self.is_down = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.is_down = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@dataclass
class Provider:
    """Twilio's side of the webhooks: each message is POSTed until it gets a 2xx, as Twilio retries."""

    fake: FakeTwilio
    http: httpx.AsyncClient
    base_url: str
    retry_delay: float = 0.2
    accepted: list[str] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)

    async def deliver(self, params: dict[str, str]) -> None:
        url = self.base_url + "/whatsapp"
        while True:
            try:
                response = await self.http.post(url, data=params, headers={"X-Twilio-Signature": self.fake.sign(url, params)})
                self.answers[response.status_code] += 1
                if response.is_success:
                    self.accepted.append(params["MessageSid"])
                    return
            except httpx.TransportError:  # the worker is gone: Twilio tries again later
                self.answers[0] += 1
            await asyncio.sleep(self.retry_delay)

    async def citizen(self, number: str, index: int) -> None:
        for step, text in enumerate(INTAKE):
            await self.deliver(self.fake.inbound_params(number, text, message_sid=f"SM{index:016d}{step:016d}"))


def number_of(index: int) -> str:
    return f"+39333{index:07d}"


def sends_per_outbox_row(fake: FakeTwilio) -> Counter[int]:
    """How many times the fake accepted each outbox row (its id is in the signed status callback URL)."""
    counts: Counter[int] = Counter()
    for message in fake.messages:
        query = parse_qs(urlsplit(message["status_callback"] or "").query)
        counts[int(query["outbox"][0])] += 1
    return counts


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        yield http
