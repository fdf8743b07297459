"""Benchmark: the HTTP edge (issue 13), an unsigned 15 MB form of 1.5 M fields posted to /whatsapp.

Registered in `bench/__main__.py` as ``edge``. Each server runs in a process of its own (so its
memory is its own), uvicorn on loopback with /whatsapp and a /healthz that answers at once:

- **before**: the route as it was before the limits (handlers/whatsapp_web.py until issue 13):
  read the whole body, parse every field, then check Twilio's signature (a forged one here);
- **now**: `handlers.whatsapp_web.routes` with the limits `ascolto run` gives it (64 KiB, form
  only, 200 fields), once with a Content-Length and once chunked (no length: read up to the limit).

Measured: how long until the attacker has its answer, the server's peak memory (VmHWM, reset
through /proc/PID/clear_refs once the server is up) over its resting memory (VmRSS), and the slowest /healthz a thread probed every 20 ms meanwhile
(one event loop a worker: whatever the route does, /healthz waits for).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Final
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from bench import Row
from conversations import Inbound
from handlers import whatsapp, whatsapp_web

FIELDS: Final = 1_500_000
"""15 MB in 1.5 M fields, as in the issue's report (13.8 s, /healthz blocked); built in the attacker only."""
TOKEN: Final = "0" * 32
PUBLIC: Final = "https://ascolto.example.org"


class _Nobody:
    """Sink and status callable of a server that must never get that far."""

    async def handle(self, event: Inbound) -> object:
        raise AssertionError("an unsigned body reached the sink")

    async def __call__(self, report: whatsapp.StatusReport, *, outbox_id: int | None) -> None:
        raise AssertionError("an unsigned body reached the status callable")


def _before() -> list[BaseRoute]:
    validator = RequestValidator(TOKEN)

    async def inbound(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if not whatsapp.is_signed(validator, PUBLIC + request.url.path, form, request.headers.get("X-Twilio-Signature")):
            return Response(status_code=403)
        return Response(status_code=200)

    return [Route(whatsapp_web.INBOUND_PATH, inbound, methods=["POST"])]


def _now() -> list[BaseRoute]:
    nobody = _Nobody()
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    return whatsapp_web.routes(nobody, nobody, validator=RequestValidator(TOKEN), public_base_url=PUBLIC, clock=clock)  # type: ignore[arg-type]


def _serve(mode: str, ready: Connection) -> None:
    """The child: one server, until terminated."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = _before() if mode == "before" else _now()
    app = Starlette(routes=[*routes, Route("/healthz", healthz)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    ready.send(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False)).run(sockets=[sock])


def _memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


@functools.cache
def _form() -> bytes:
    return b"&".join(b"f%07d=1" % i for i in range(FIELDS))


async def _post(port: int, *, chunked: bool) -> int:
    """The attacker: headers, then the body in 64 KiB writes until done or cut off; the status it got."""
    form = _form()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    size = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(form)}"
    head = f"POST /whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: forged\r\n{size}\r\n\r\n"
    answer = asyncio.create_task(reader.readline())
    try:
        writer.write(head.encode())
        for start in range(0, len(form), 65536):
            piece = form[start : start + 65536]
            if answer.done() or writer.is_closing():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        else:
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
    except OSError:
        pass
    try:
        line = await asyncio.wait_for(answer, 120)
    except OSError:
        return 0
    finally:
        writer.transport.abort()
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0


def _probe(url: str, stop: threading.Event, seconds: list[float]) -> None:
    with httpx.Client(trust_env=False, timeout=120.0) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url)
            seconds.append(time.perf_counter() - started)
            time.sleep(0.02)


async def _measure(mode: str, *, chunked: bool = False) -> tuple[float, float, float, int]:
    """Seconds to the answer, MB of peak memory growth, slowest /healthz in ms, and the status."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(mode, child), daemon=True)
    process.start()
    try:
        port = parent.recv()
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(trust_env=False) as http:
            for _ in range(500):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(base + "/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.01)
        pid = process.pid or 0
        with open(f"/proc/{pid}/clear_refs", "w") as clear:
            clear.write("5")  # the peak (VmHWM) starts again from here: imports and start-up are not counted
        resting = _memory_kb(pid, "VmRSS")
        _form()  # built before the clock starts
        stop, probes = threading.Event(), []
        prober = threading.Thread(target=_probe, args=(base + "/healthz", stop, probes))
        prober.start()
        started = time.perf_counter()
        status = await _post(port, chunked=chunked)
        took = time.perf_counter() - started
        await asyncio.sleep(0.1)  # a probe or two after the answer
        stop.set()
        await asyncio.to_thread(prober.join)
        peak = _memory_kb(pid, "VmHWM")
    finally:
        process.terminate()
        process.join()
    return took, (peak - resting) / 1024, max(probes) * 1000, status


async def run() -> list[Row]:
    rows = []
    for label, mode, chunked in (
        ("before the limits", "before", False),
        ("now, Content-Length", "now", False),
        ("now, chunked", "now", True),
    ):
        took, grown, slowest, status = await _measure(mode, chunked=chunked)
        answer = f"answered {status}" if status else "connection reset by the server before the body was sent"
        rows += [
            Row("edge", f"15 MB unsigned form, {label}: time to the answer", took, "s", answer),
            Row("edge", f"15 MB unsigned form, {label}: server peak memory growth", grown, "MB", "VmHWM - VmRSS at rest"),
            Row("edge", f"15 MB unsigned form, {label}: slowest /healthz meanwhile", slowest, "ms", "probed every 20 ms"),
        ]
    return rows
