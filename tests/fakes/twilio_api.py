"""Loopback fake of Twilio's Programmable Messaging REST API for WhatsApp, driven by the real twilio client.

Pointing the real client at the fake
------------------------------------
Every twilio ``Domain`` builds its URLs from its public ``base_url`` attribute
(``twilio/base/domain.py``: ``absolute_url`` joins ``base_url`` and the
versioned path), and ``client.api`` is created once and cached on the client.
Overriding ``client.api.base_url`` therefore keeps the whole real pipeline:
form encoding of ``create_async`` arguments, Basic auth, headers, the aiohttp
transport and the error parsing in ``Version.exception``. ``attach`` does just
that::

    async with FakeTwilio(rate=50.0) as fake, AsyncTwilioHttpClient() as http:
        client = Client(fake.account_sid, fake.auth_token, http_client=http)
        fake.attach(client)  # same as: client.api.base_url = fake.base_url
        msg = await client.messages.create_async(
            from_=fake.sender, to="whatsapp:+393331234567", body="Ciao!"
        )
        assert msg.sid.startswith("SM") and msg.status == "queued"

Only ``api.twilio.com`` (``/2010-04-01/...``) is redirected; other domains
(content, conversations, ...) still point at twilio.com. The client must have
no ``edge``/``region`` (nor TWILIO_EDGE/TWILIO_REGION in the environment):
``ClientBase.get_hostname`` would otherwise rewrite "127.0.0.1:PORT" as if it
were "api.twilio.com". Close the ``AsyncTwilioHttpClient`` (``async with`` or
``await http.close()``): its aiohttp session is otherwise reported unclosed.
With aiohttp >= 3.14 every request through ``AsyncTwilioHttpClient`` also warns
(twilio still passes ``aiohttp.BasicAuth`` as ``auth=``), which
``filterwarnings=error`` turns into failures: mark such tests with
``TWILIO_AIOHTTP_DEPRECATIONS`` (``pytestmark = TWILIO_AIOHTTP_DEPRECATIONS``).

Errors come back as ``twilio.base.exceptions.TwilioRestException`` (the fake
answers Twilio's legacy body ``{"code", "message", "more_info", "status"}``,
not the RFC 9457 shape that would make a ``TwilioServiceException``):
``exc.status`` is the HTTP status, ``exc.code`` the Twilio error code from the
body, ``exc.msg`` is ``"Unable to create record: <message>"``.

Provider behaviour modelled (https://www.twilio.com/docs/messaging/api/message-resource):

* a created message answers 201 with status ``queued`` (``accepted`` with a
  MessagingServiceSid) and Twilio sends no status callback for that initial
  status (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks);
* outside WhatsApp's 24-hour customer service window a freeform message (no
  ContentSid) is still accepted with 201: it fails later, reported only through
  the status callback as MessageStatus=failed, ErrorCode=63016
  (https://www.twilio.com/docs/api/errors/63016 "This message failed to be
  delivered"; production webhook code such as tactilenews/100eyes checks
  ``ErrorCode == 63016 and MessageStatus == "failed"`` in its status handler);
  templates sent with ContentSid are allowed. An inbound message reopens the window;
* opted-out recipients fail synchronously: 400, code 21610;
* inbound media (``add_media``) are served like Twilio's Media resource: a GET
  of the MediaUrl needs the account's Basic credentials (401 / 20003 otherwise)
  and answers 307 to a storage host, which serves the bytes without any auth
  (https://www.twilio.com/docs/messaging/api/media-resource#fetch-media-file).
  The storage host is the same server reached as ``localhost`` instead of
  ``127.0.0.1``: another origin, so a client must not forward the credentials;
  ``media_fetches`` records what arrived there. ``fail_media_next`` scripts
  404/500 answers of the API side;
* over-throughput is answered 429 / 20429 here. Real Twilio mostly queues
  excess WhatsApp traffic per sender (and reports 63018 asynchronously); the
  fake is deliberately stricter so the app's back-off path gets exercised.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Final, TypedDict, TypeVar
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp
from twilio.request_validator import RequestValidator
from twilio.rest import Client

T = TypeVar("T")

# twilio's AsyncTwilioHttpClient passes aiohttp.BasicAuth as ``auth=``, both deprecated since
# aiohttp 3.14; with filterwarnings=error every request fails. Mark tests that use it with this.
TWILIO_AIOHTTP_DEPRECATIONS: Final = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)

API_VERSION: Final = "2010-04-01"
# Twilio's WhatsApp sandbox sender: realistic, and obviously not a real customer.
SANDBOX_SENDER: Final = "whatsapp:+14155238886"
STATUSES: Final = frozenset(
    {"accepted", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered"}
)
# The resource only moves forward; a late "sent" callback must not undo "delivered".
_RANK: Final = {
    "accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5,
    "undelivered": 9, "failed": 9,
}
_WHATSAPP: Final = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_CONTENT_SID: Final = re.compile(r"^HX[0-9a-fA-F]{32}$")
_MAX_BODY: Final = 1600  # https://www.twilio.com/docs/api/errors/21617


class FakeMessage(TypedDict):
    """One accepted outbound message, as the fake recorded it."""

    sid: str
    account_sid: str
    from_: str
    to: str
    body: str | None
    content_sid: str | None
    content_variables: dict[str, str] | None
    media_urls: list[str]
    status_callback: str | None
    messaging_service_sid: str | None
    status: str
    error_code: int | None
    statuses: list[str]  # every status reported, in callback order
    date_created: str
    received_at: float  # the fake's clock (monotonic by default) when the create arrived: pacing, to the µs


@dataclass(frozen=True)
class CallbackDelivery:
    """One signed status callback the fake POSTed (status_code None: not delivered)."""

    url: str
    params: dict[str, str]
    signature: str
    status_code: int | None
    error: str | None = None


@dataclass(frozen=True)
class MediaFetch:
    """One GET that reached the fake's storage host (after the API's redirect)."""

    media_sid: str
    authorization: str | None  # must be None: credentials never leave Twilio's origin


@dataclass
class FakeTwilioStats:
    """Counters over the fake's lifetime."""

    requests: int = 0  # create calls that reached the fake
    created: int = 0
    rejected: int = 0  # every non-2xx answer to a create, including the two below
    throttled: int = 0  # 429s from the per-sender throughput limit
    scripted: int = 0  # answers consumed from fail_next
    callbacks_sent: int = 0
    callbacks_failed: int = 0


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str


@dataclass
class _Bucket:
    tokens: float
    stamp: float


def _e164(number: str) -> str:
    return number.removeprefix("whatsapp:")


def _whatsapp(number: str) -> str:
    return f"whatsapp:{_e164(number)}"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    # Twilio's resources use RFC 2822 dates with a numeric UTC offset, e.g. "+0000".
    return format_datetime(moment)


def twilio_error(status: int, code: int, message: str, **extra: str) -> JSONResponse:
    """Twilio's legacy error body, which the client turns into TwilioRestException."""
    body: dict[str, object] = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }
    return JSONResponse(body, status_code=status)


class _LoopbackServer(uvicorn.Server):
    """A uvicorn server for tests: no signal handlers, and it stops as soon as asked."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take over SIGINT/SIGTERM of the whole pytest process.
        yield

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; tests start and stop many servers.
        await self.on_tick(0)  # sets the Date/Server default headers once
        await self._stop.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own shutdown always sleeps 0.1 s, then polls every 0.1 s; a suite that
        # starts two servers per test pays that many times. Same steps, polled tightly.
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        async with asyncio.timeout(5.0):
            while self.server_state.connections or self.server_state.tasks:
                await asyncio.sleep(0.001)
        for server in self.servers:
            await server.wait_closed()

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()


@contextlib.asynccontextmanager
async def serve_loopback(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (ephemeral port) in the running loop; yield its base URL."""
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and with Nagle on every keep-alive response stalls 40 ms (delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # log_config=None: do not let uvicorn reconfigure the test process's logging.
    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None)
    server = _LoopbackServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.001)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await task
        sock.close()


class FakeTwilio:
    """Twilio's Messages endpoint on loopback, with scripted failures and signed callbacks."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        sender: str = SANDBOX_SENDER,
        rate: float | None = 1.0,
        burst: int = 3,
        status_callback: str | None = None,
        auto_statuses: Sequence[str] = (),
        templates: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.sender = _whatsapp(sender)
        self.rate = rate  # messages per second per From; None disables throttling
        self.burst = burst
        self.status_callback = status_callback  # used when a message has no StatusCallback
        self.auto_statuses = tuple(auto_statuses)  # sent after each create, in this order
        self.templates = dict(templates or {})  # ContentSid -> text with {{1}} placeholders
        self.messages: list[FakeMessage] = []
        self.callbacks: list[CallbackDelivery] = []
        self.stats = FakeTwilioStats()
        self.base_url = ""
        self._clock = clock
        self._validator = RequestValidator(self.auth_token)
        self._failures: deque[_Failure] = deque()
        self.media: dict[str, tuple[bytes, str]] = {}  # media sid -> (content, content type)
        self.media_fetches: list[MediaFetch] = []
        self.media_requests = 0  # GETs of a MediaUrl on the API side, authorised or not
        self._media_failures: deque[int] = deque()
        self._opted_out: set[str] = set()
        self._closed_windows: set[str] = set()
        self._buckets: dict[str, _Bucket] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._http: httpx.AsyncClient | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        for status in self.auto_statuses:
            self._check_status(status)

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> FakeTwilio:
        async with contextlib.AsyncExitStack() as stack:
            # trust_env=False: a proxy from the environment must never see loopback callbacks.
            self._http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=5.0, trust_env=False)
            )
            self.base_url = await stack.enter_async_context(serve_loopback(self._app()))
            stack.push_async_callback(self._cancel_tasks)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def attach(self, client: Client) -> Client:
        """Send ``client``'s api.twilio.com requests to the fake; returns the client."""
        if client.edge or client.region:
            raise ValueError("unset edge/region: they rewrite the fake's host like a twilio.com one")
        client.api.base_url = self.base_url
        return client

    # -- scripting ---------------------------------------------------------

    def fail_next(self, status: int, code: int, message: str, *, count: int = 1) -> None:
        """Answer the next ``count`` creates (after auth) with this Twilio error."""
        self._failures.extend([_Failure(status, code, message)] * count)

    def fail_media_next(self, status: int, *, count: int = 1) -> None:
        """Answer the next ``count`` authorised media GETs with this HTTP status (404, 500...)."""
        self._media_failures.extend([status] * count)

    def add_media(self, content: bytes, content_type: str = "image/jpeg") -> tuple[str, str]:
        """A file a citizen sent: its MediaUrl and content type, for ``inbound_params(media=[...])``."""
        media_sid = _sid("ME")
        self.media[media_sid] = (content, content_type)
        url = f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages/{_sid('MM')}/Media/{media_sid}"
        return url, content_type

    @property
    def storage_url(self) -> str:
        """The fake's storage host: this server under another name, hence another origin."""
        return self.base_url.replace("://127.0.0.1:", "://localhost:")

    def opt_out(self, number: str) -> None:
        """Every send to ``number`` fails 21610, as after the user replied STOP."""
        self._opted_out.add(_e164(number))

    def opt_in(self, number: str) -> None:
        self._opted_out.discard(_e164(number))

    def close_window(self, number: str) -> None:
        """Freeform sends to ``number`` are accepted, then fail 63016 via the callback."""
        self._closed_windows.add(_e164(number))

    def open_window(self, number: str) -> None:
        self._closed_windows.discard(_e164(number))

    # -- inspection --------------------------------------------------------

    def messages_to(self, number: str) -> list[FakeMessage]:
        return [m for m in self.messages if _e164(m["to"]) == _e164(number)]

    def message(self, sid: str) -> FakeMessage:
        for record in self.messages:
            if record["sid"] == sid:
                return record
        raise KeyError(sid)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 15.0) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it."""
        async with asyncio.timeout(timeout), self._changed:
            return await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- status callbacks --------------------------------------------------

    async def advance(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> CallbackDelivery | None:
        """Report ``status`` for message ``sid`` now, in whatever order the test calls it.

        Posts the signed callback when the message (or the fake) has a callback URL
        and returns the delivery; failed/undelivered default to ErrorCode 30008
        (https://www.twilio.com/docs/api/errors/30008, "Unknown error").
        """
        self._check_status(status)
        record = self.message(sid)
        if status in {"failed", "undelivered"} and error_code is None:
            error_code = 30008
        if _RANK[status] >= _RANK[record["status"]]:
            record["status"] = status
            record["error_code"] = error_code
        record["statuses"].append(status)
        await self._notify()
        url = record["status_callback"] or self.status_callback
        if url is None:
            return None
        delivery = await self._post_callback(url, self._status_params(record, status, error_code))
        await self._notify()
        return delivery

    def _status_params(self, record: FakeMessage, status: str, error_code: int | None) -> dict[str, str]:
        # The parameter set of a WhatsApp status callback; Twilio adds fields without
        # notice, so receivers must validate signatures over whatever arrives.
        params = {
            "AccountSid": record["account_sid"],
            "ApiVersion": API_VERSION,
            "ChannelPrefix": "whatsapp",
            "ChannelToAddress": _e164(record["to"]),
            "From": record["from_"],
            "MessageSid": record["sid"],
            "MessageStatus": status,
            "SmsSid": record["sid"],
            "SmsStatus": status,
            "To": record["to"],
        }
        if record["messaging_service_sid"]:
            params["MessagingServiceSid"] = record["messaging_service_sid"]
        if status in {"delivered", "read"}:
            params["EventType"] = status.upper()  # WhatsApp receipts carry it
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    async def _post_callback(self, url: str, params: dict[str, str]) -> CallbackDelivery:
        assert self._http is not None, "use FakeTwilio as an async context manager"
        signature = self.sign(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            response = await self._http.post(url, data=params, headers=headers)
        except httpx.HTTPError as exc:
            delivery = CallbackDelivery(url, params, signature, None, repr(exc))
        else:
            delivery = CallbackDelivery(url, params, signature, response.status_code)
        ok = delivery.status_code is not None and delivery.status_code < 400
        self.stats.callbacks_sent += ok
        self.stats.callbacks_failed += not ok
        self.callbacks.append(delivery)
        return delivery

    async def _after_create(self, record: FakeMessage) -> None:
        # Spawned from a BackgroundTask, so the 201 is on the wire before any callback.
        task = asyncio.create_task(self._progress(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _progress(self, record: FakeMessage) -> None:
        freeform = record["content_sid"] is None
        if freeform and _e164(record["to"]) in self._closed_windows:
            await self.advance(record["sid"], "failed", error_code=63016)
            return
        for status in self.auto_statuses:
            await self.advance(record["sid"], status)

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown message status {status!r}; one of {sorted(STATUSES)}")

    # -- inbound webhooks --------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a POST of ``params`` to ``url`` (the full URL, query included)."""
        return str(self._validator.compute_signature(url, params))

    def inbound_params(
        self,
        from_: str,
        body: str = "",
        *,
        to: str | None = None,
        num_media: int = 0,
        media: Sequence[tuple[str, str]] = (),
        latitude: float | None = None,
        longitude: float | None = None,
        button_payload: str | None = None,
        button_text: str | None = None,
        profile_name: str | None = None,
        message_sid: str | None = None,
    ) -> dict[str, str]:
        """Form fields of Twilio's incoming-WhatsApp-message webhook; sign them with ``sign``.

        Also reopens ``from_``'s 24-hour window, as a real inbound message does.
        """
        media = list(media)
        if not media and num_media:
            media = [(f"https://api.twilio.com/{API_VERSION}/Accounts/{self.account_sid}"
                      f"/Messages/{_sid('MM')}/Media/{_sid('ME')}", "image/jpeg")] * num_media
        # Twilio gives messages with media an "MM" sid, text ones "SM".
        sid = message_sid or _sid("MM" if media else "SM")
        if button_payload is not None:
            kind = "button"
        elif latitude is not None:
            kind = "location"
        elif media:
            main = media[0][1].split("/")[0]
            kind = main if main in {"image", "audio", "video"} else "document"
        else:
            kind = "text"
        params = {
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": _whatsapp(to) if to else self.sender,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": _whatsapp(from_),
            "ApiVersion": API_VERSION,
            "WaId": _e164(from_).removeprefix("+"),
            "MessageType": kind,
        }
        if profile_name is not None:
            params["ProfileName"] = profile_name
        for index, (url, content_type) in enumerate(media):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = content_type
        if latitude is not None and longitude is not None:
            params["Latitude"] = str(latitude)
            params["Longitude"] = str(longitude)
        if button_payload is not None:
            params["ButtonPayload"] = button_payload
            params["ButtonText"] = button_text if button_text is not None else button_payload
        self.open_window(from_)
        return params

    # -- HTTP side ---------------------------------------------------------

    def _app(self) -> Starlette:
        prefix = f"/{API_VERSION}/Accounts/{{account_sid}}"
        return Starlette(
            routes=[
                Route(f"{prefix}/Messages.json", self._create, methods=["POST"]),
                Route(f"{prefix}/Messages/{{sid}}.json", self._fetch, methods=["GET"]),
                Route(f"{prefix}/Messages/{{sid}}/Media/{{media_sid}}", self._media, methods=["GET"]),
                Route("/storage/{media_sid}", self._storage, methods=["GET"]),
            ],
            exception_handlers={404: self._not_found},
        )

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")

    def _authorise(self, request: Request) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token):
            response = twilio_error(
                401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if request.path_params["account_sid"] != self.account_sid:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return None

    async def _fetch(self, request: Request) -> Response:
        denied = self._authorise(request)
        if denied is not None:
            return denied
        try:
            record = self.message(request.path_params["sid"])
        except KeyError:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(self._resource(record))

    async def _media(self, request: Request) -> Response:
        self.media_requests += 1
        denied = self._authorise(request)
        if denied is not None:
            return denied
        media_sid = request.path_params["media_sid"]
        if self._media_failures:
            status = self._media_failures.popleft()
            return twilio_error(status, 20404 if status == 404 else 20500, f"scripted HTTP {status}")
        if media_sid not in self.media:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        # Real Twilio redirects to a short-lived URL on its media storage host.
        return Response(status_code=307, headers={"Location": f"{self.storage_url}/storage/{media_sid}"})

    async def _storage(self, request: Request) -> Response:
        media_sid = request.path_params["media_sid"]
        self.media_fetches.append(MediaFetch(media_sid, request.headers.get("authorization")))
        if media_sid not in self.media:
            return Response(status_code=404)
        content, content_type = self.media[media_sid]
        return Response(content, media_type=content_type)

    async def _create(self, request: Request) -> Response:
        self.stats.requests += 1
        response = await self._try_create(request)
        if response.status_code >= 300:
            self.stats.rejected += 1
        await self._notify()
        return response

    async def _try_create(self, request: Request) -> Response:
        denied = self._authorise(request)
        if denied is not None:
            return denied
        if self._failures:
            failure = self._failures.popleft()
            self.stats.scripted += 1
            return twilio_error(failure.status, failure.code, failure.message)
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        form = dict(pairs)
        media_urls = [value for key, value in pairs if key == "MediaUrl"]
        checked = self._validate(form, media_urls)
        if isinstance(checked, Response):
            return checked
        to, from_, variables = checked
        if _e164(to) in self._opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not self._take_token(from_):
            self.stats.throttled += 1
            return twilio_error(429, 20429, "Too Many Requests")
        record = self._record(form, to, from_, variables, media_urls)
        return JSONResponse(
            self._resource(record), status_code=201,
            background=BackgroundTask(self._after_create, record),
        )

    def _validate(
        self, form: dict[str, str], media_urls: list[str]
    ) -> Response | tuple[str, str, dict[str, str] | None]:
        to = form.get("To", "")
        service = form.get("MessagingServiceSid")
        from_ = form.get("From") or (self.sender if service else "")
        body, content_sid = form.get("Body"), form.get("ContentSid")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not (to.startswith("whatsapp:") and from_.startswith("whatsapp:")):
            # This fake speaks only WhatsApp, so any non-whatsapp: side is a channel mismatch.
            return twilio_error(
                400, 21910, "Invalid From and To pair. From and To should be of the same channel"
            )
        if not _WHATSAPP.match(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not _WHATSAPP.match(from_):
            return twilio_error(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if not (body or content_sid or media_urls):
            return twilio_error(
                400, 21619, "A text message body, media URL or Content SID is required."
            )
        if body is not None and len(body) > _MAX_BODY:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if content_sid is not None and not _CONTENT_SID.match(content_sid):
            return twilio_error(400, 21655, "The ContentSid is Invalid")
        variables: dict[str, str] | None = None
        if "ContentVariables" in form:
            variables = _parse_variables(form["ContentVariables"])
            if variables is None:
                return twilio_error(400, 21656, "The ContentVariables Parameter is invalid")
        return to, from_, variables

    def _take_token(self, sender: str) -> bool:
        if self.rate is None:
            return True
        now = self._clock()
        bucket = self._buckets.setdefault(sender, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _record(
        self,
        form: dict[str, str],
        to: str,
        from_: str,
        variables: dict[str, str] | None,
        media_urls: list[str],
    ) -> FakeMessage:
        content_sid = form.get("ContentSid")
        body = form.get("Body")
        if content_sid is not None:
            # The resource shows the rendered template text, not the Body parameter.
            body = _render(self.templates.get(content_sid, ""), variables or {})
        service = form.get("MessagingServiceSid")
        record: FakeMessage = {
            "sid": _sid("SM"),
            "account_sid": self.account_sid,
            "from_": from_,
            "to": to,
            "body": body,
            "content_sid": content_sid,
            "content_variables": variables,
            "media_urls": media_urls,
            "status_callback": form.get("StatusCallback") or None,
            "messaging_service_sid": service,
            "status": "accepted" if service else "queued",
            "error_code": None,
            "statuses": [],
            "date_created": _rfc2822(datetime.now(UTC)),
            "received_at": self._clock(),
        }
        self.messages.append(record)
        self.stats.created += 1
        return record

    def _resource(self, record: FakeMessage) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{record['account_sid']}/Messages/{record['sid']}"
        return {
            "account_sid": record["account_sid"],
            "api_version": API_VERSION,
            "body": record["body"] or "",
            "date_created": record["date_created"],
            "date_sent": None,
            "date_updated": record["date_created"],
            "direction": "outbound-api",
            "error_code": record["error_code"],
            "error_message": None,
            "from": record["from_"],
            "messaging_service_sid": record["messaging_service_sid"],
            "num_media": str(len(record["media_urls"])),
            "num_segments": "1",  # WhatsApp bodies are never split into SMS segments
            "price": None,
            "price_unit": "USD",
            "sid": record["sid"],
            "status": record["status"],
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": record["to"],
            "uri": f"{uri}.json",
        }


def _parse_variables(raw: str) -> dict[str, str] | None:
    # Twilio wants a JSON object whose values are non-empty (error 21656 otherwise).
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or any(v in (None, "") for v in value.values()):
        return None
    return {str(k): str(v) for k, v in value.items()}


def _render(template: str, variables: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: variables.get(m.group(1), m.group(0)), template)
