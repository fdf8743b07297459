"""Parts of a WhatsApp message's CPU, each alone (issue 18), for steps too small for `bench whatsapp`'s noise.

    python -m bench.whatsapp_parts edge [TREE ...]   # a status callback through the webhook route
    python -m bench.whatsapp_parts send              # one outgoing message: twilio's client vs one aiohttp POST

`edge`: CPU a signed status callback costs in the app, no server and no database: Starlette,
`LimitedBody`, the form, the signature (twilio's validator), `parse_status`, the sink doing
nothing. Each TREE (a checkout; this one when none is given) is measured in its own process
(PYTHONPATH=TREE, so its own `handlers`), in turn, ROUNDS times: a before/after in the same
minutes. `send`: CPU of one `client.messages.create_async` (AsyncTwilioHttpClient, as
`WhatsAppSender`) against one aiohttp POST of the same form, to a server in another process
that answers a canned 201 (its CPU is not counted), in turn ROUNDS times.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

ROUNDS: Final = 5
TOKEN: Final = "1" * 32
ACCOUNT: Final = "AC" + "a" * 32
BASE: Final = "https://ascolto.example.org"
STATUS: Final = {
    "AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp", "ChannelToAddress": "+393331234567",
    "From": "whatsapp:+14155238886", "MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "SmsSid": "SM" + "b" * 32,
    "SmsStatus": "delivered", "To": "whatsapp:+393331234567", "EventType": "DELIVERED",
}  # fmt: skip
"""A delivered callback as Twilio posts it (tests/fakes/twilio_api.py)."""


def _cpu_us(count: int, call: Callable[[], Awaitable[Any]]) -> Awaitable[float]:
    async def measure() -> float:
        started = time.process_time()
        for _ in range(count):
            await call()
        return 1e6 * (time.process_time() - started) / count

    return measure()


async def edge(count: int) -> float:
    """µs of CPU a signed status callback through this tree's webhook route."""
    from starlette.applications import Starlette
    from twilio.request_validator import RequestValidator

    from handlers import whatsapp_web

    class Sink:
        async def handle(self, event: object) -> None:
            return None

    async def statuses(report: object, *, outbox_id: int | None) -> None:
        return None

    validator = RequestValidator(TOKEN)
    routes = whatsapp_web.routes(Sink(), statuses, validator=validator, public_base_url=BASE, clock=lambda: datetime.now(UTC))  # type: ignore[arg-type]  # the sinks' types: a do-nothing stand-in
    app = Starlette(routes=routes)
    path, query = whatsapp_web.STATUS_PATH, "outbox=1234"
    body = urlencode(STATUS).encode()
    signature = validator.compute_signature(f"{BASE}{path}?{query}", STATUS)
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
        (b"x-twilio-signature", signature.encode()),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "", "headers": headers,
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555),
    }  # fmt: skip
    answered: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    async def one() -> None:
        await app(dict(scope), receive, send)

    await _cpu_us(200, one)  # warm
    result = await _cpu_us(count, one)
    if set(answered) != {204}:
        raise RuntimeError(f"the route answered {sorted(set(answered))}")
    return result


CANNED: Final = """
import asyncio, sys
BODY = {body!r}
ANSWER = b"HTTP/1.1 201 Created\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(BODY), BODY)
class Canned(asyncio.Protocol):
    def connection_made(self, transport): self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\\r\\n\\r\\n")) >= 0:
            length = next((int(l.split(b":")[1]) for l in self.buffer[:end].split(b"\\r\\n") if l.lower().startswith(b"content-length:")), 0)
            if len(self.buffer) < end + 4 + length: return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(ANSWER)
async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


async def send(count: int, rounds: int) -> None:
    """Prints, each round, µs of CPU a message through twilio's client and through one aiohttp POST."""
    import aiohttp
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    warnings.simplefilter("ignore", DeprecationWarning)  # twilio passes aiohttp.BasicAuth as auth= (aiohttp >= 3.14)
    created = {"sid": "SM" + "c" * 32, "account_sid": ACCOUNT, "status": "queued", "to": "whatsapp:+393331234567",
               "from": "whatsapp:+14155238886", "date_created": "Thu, 03 Dec 2026 20:00:00 +0000", "num_media": "0"}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-c", CANNED.format(body=json.dumps(created).encode())], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        http = AsyncTwilioHttpClient(timeout=10)
        client = Client(ACCOUNT, TOKEN, http_client=http)
        client.api.base_url = base
        message = {"from_": "whatsapp:+14155238886", "to": "whatsapp:+393331234567", "body": "Ciao, come posso aiutarti? " * 3,
                   "status_callback": f"{BASE}/whatsapp/status?outbox=1234"}  # fmt: skip
        form = {"From": message["from_"], "To": message["to"], "Body": message["body"], "StatusCallback": message["status_callback"]}
        basic = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        async with aiohttp.ClientSession(headers={"Authorization": f"Basic {basic}"}) as session:
            url = f"{base}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"

            async def through_twilio() -> None:
                await client.messages.create_async(**message)

            async def one_post() -> None:
                async with session.post(url, data=form) as answer:
                    (await answer.json())["sid"]

            for way in (through_twilio, one_post):
                await _cpu_us(200, way)
            for _ in range(rounds):
                print(f"twilio client {await _cpu_us(count, through_twilio):.0f} µs, one aiohttp POST {await _cpu_us(count, one_post):.0f} µs a message", flush=True)
        await http.close()
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str]) -> None:
    what, trees = (argv[0] if argv else "edge"), argv[1:]
    if what == "send":
        asyncio.run(send(3000, ROUNDS))
    elif what == "edge-here":
        print(f"{asyncio.run(edge(int(argv[1]))):.1f}")
    elif what == "edge":
        trees = trees or [str(Path.cwd())]
        for round_ in range(ROUNDS):
            for tree in trees:
                # This file run in TREE (`-c`: the working directory first on sys.path), so TREE's `handlers`.
                code = f"import runpy, sys; sys.argv = ['parts', 'edge-here', '20000']; runpy.run_path({__file__!r}, run_name='__main__')"
                out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, check=True).stdout.strip()
                print(f"round {round_ + 1} {tree}: {out} µs a status callback", flush=True)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
