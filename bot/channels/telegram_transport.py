"""The Bot API's HTTP under PTB: aiohttp instead of PTB's default httpx, for the calls the bot makes.

Every reply leaves through `Bot.send_message`, so the HTTP client's cost is paid once a reply.
Measured side by side (docs/performance.md, issue 18 eighth pass): one `send_message` to the
loopback fake, client and fake together, ~1,270 µs of CPU through httpx and ~480 through
aiohttp; 5 % of an update in `bench telegram`. PTB declares `BaseRequest` for exactly this
("can be implemented via different asyncio HTTP libraries"); aiohttp is already installed under
Twilio's async client. Long polling keeps PTB's own request: its timeouts are the poll's, and it
makes one call a poll, not one a reply.
"""

from __future__ import annotations

import io
import ssl
import urllib.request
from typing import Final
from urllib.parse import urlsplit

import aiohttp
import certifi
# Private modules, as PTB's own HTTPXRequest imports them: a request's timeouts arrive as PTB's
# DefaultValue when the caller gave none, and a subclass has no public name to tell that apart.
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_SIZE: Final = 256
"""PTB's own default for the bot's requests (`ApplicationBuilder`), and the same timeouts below."""
KEEPALIVE_SECONDS: Final = 4.0
"""An idle connection is closed before a server's usual 5 s (uvicorn's, httpx's own expiry): reusing
one the server is closing fails the send (the race `bench whatsapp` met, docs/performance.md)."""


class AiohttpRequest(BaseRequest):
    """`BaseRequest` over one `aiohttp.ClientSession`: PTB builds the call and reads the answer
    (status codes to `RetryAfter`, `Forbidden`, `BadRequest`…); this only carries the bytes."""

    __slots__ = ("_session", "_proxies", "_pool_size", "_read", "_write", "_connect", "_pool", "_media_write")

    def __init__(
        self,
        *,
        connection_pool_size: int = POOL_SIZE,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect, self._pool = read_timeout, write_timeout, connect_timeout, pool_timeout
        self._media_write = media_write_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        """Opens the session on the running loop (aiohttp wants one); again after a `shutdown`, as PTB's own does."""
        if self._session is None or self._session.closed:
            # certifi's roots, as httpx uses: the same servers are trusted whichever client carries the call.
            tls = ssl.create_default_context(cafile=certifi.where())
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=tls, keepalive_timeout=KEEPALIVE_SECONDS)
            # Not trust_env: aiohttp would then read the environment and ~/.netrc at every call,
            # ~0.8 ms of CPU a send (measured). The proxy is looked up once a host instead (`_proxy`).
            self._session = aiohttp.ClientSession(connector=connector)
            self._proxies = {}

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            await self.initialize()  # a call before `initialize`, as PTB's httpx request allows
        assert self._session is not None
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
        write = _given(write_timeout, self._media_write if files else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            # aiohttp has no write timeout: the whole call is bounded by the sum of its parts instead,
            # so an upload that stalls ends as a `TimedOut`, as it would under httpx.
            total=_sum(pool, connect, write, read),
            connect=_sum(pool, connect),  # aiohttp counts the wait for a free connection in `connect`
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # The class only: an error's text may carry the URL, and a Bot API URL carries the token.
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from exc

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for this URL's host (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as httpx
        honoured them under PTB; read once a host, not at every call."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(parts.scheme)
        return self._proxies[key]


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as PTB encodes them (JSON values), with the files as multipart parts when there are any."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_parameters
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        # Bytes as a stream: aiohttp writes a large bytes body in one go, holding the loop (and warns so).
        part = io.BytesIO(content) if isinstance(content, bytes) else content
        form.add_field(name, part, filename=filename, content_type=mimetype)
    return form


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*parts: float | None) -> float | None:
    """None (no limit) if any part has none."""
    return None if any(part is None for part in parts) else sum(part for part in parts if part is not None)
