"""The floor for `bench/whatsapp.py`: a minimal WhatsApp bot that checks the signature, inserts the message, sends one reply.

Run as its own process (`python -m bench.minimal_whatsapp`), configured by the same
environment variables as `ascolto run` (ASCOLTO_WEB__PORT, ASCOLTO_DATABASE__URL, and the
ASCOLTO_WHATSAPP__ account, token, sender, public and API base URLs), on uvicorn with the same
options. What it does for each POST to /whatsapp, and nothing else: Twilio's signature over the
form (twilio's RequestValidator, as Ascolto), one SQLite transaction (`INSERT` of the message,
unique on its MessageSid, WAL, synchronous=FULL, sqlite3 on the event loop's thread), then
one reply through Twilio's REST API (aiohttp, as twilio's async client), then the empty TwiML.
No status callback is asked for: the fake posts none back.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
from urllib.parse import parse_qsl

import aiohttp
import uvicorn
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

SCHEMA = "CREATE TABLE IF NOT EXISTS message (sid TEXT PRIMARY KEY, sender TEXT NOT NULL, body TEXT NOT NULL)"
KEEPALIVE_SECONDS = 2.0
"""Below uvicorn's default keep-alive (5 s), which the fake Twilio runs with."""
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def app() -> Starlette:
    env = os.environ
    sid, token = env["ASCOLTO_WHATSAPP__ACCOUNT_SID"], env["ASCOLTO_WHATSAPP__AUTH_TOKEN"]
    sender, public = env["ASCOLTO_WHATSAPP__FROM_NUMBER"], env["ASCOLTO_WHATSAPP__PUBLIC_BASE_URL"]
    messages_url = f"{env['ASCOLTO_WHATSAPP__API_BASE_URL']}/2010-04-01/Accounts/{sid}/Messages.json"
    path = make_url(env["ASCOLTO_DATABASE__URL"]).database
    db = sqlite3.connect(path or ":memory:", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(SCHEMA)
    validator = RequestValidator(token)
    http: list[aiohttp.ClientSession] = []

    async def inbound(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if not validator.validate(public + request.url.path, form, request.headers.get("X-Twilio-Signature", "")):
            return Response(status_code=403)
        db.execute("BEGIN IMMEDIATE")
        inserted = db.execute(
            "INSERT INTO message (sid, sender, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (form["MessageSid"], form["From"], form.get("Body", "")),
        ).rowcount
        db.execute("COMMIT")
        if inserted:
            if not http:
                basic = base64.b64encode(f"{sid}:{token}".encode()).decode()
                # Idle connections closed after 2 s, before the fake's uvicorn closes them (keep-alive 5 s): a
                # request sent on a connection the server is closing fails (ServerDisconnectedError, a 500 here),
                # and between its rounds this bot idles while Ascolto is measured, often about 5 s.
                connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS)
                http.append(aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Basic {basic}"}))
            reply = {"To": form["From"], "From": f"whatsapp:{sender.removeprefix('whatsapp:')}", "Body": "Ricevuto."}
            async with http[0].post(messages_url, data=reply) as answer:
                await answer.read()
        return Response(TWIML, media_type="text/xml")

    async def healthz(_request: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[Route("/whatsapp", inbound, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])])


def main() -> None:
    # The options of bot/channels/web.py's uvicorn.Config, HTTP parser (h11) included.
    port = int(os.environ["ASCOLTO_WEB__PORT"])
    config = uvicorn.Config(app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
