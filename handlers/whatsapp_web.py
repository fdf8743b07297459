"""WhatsApp's HTTP edge: Twilio's signed webhooks in, and the signed URLs Twilio fetches our attachments from.

Every route checks its signature before anything else, and a webhook's body is bounded before
that (`handlers/body_limit.py`: a form of at most `FORM_LIMIT`, then at most `MAX_FIELDS`
fields). Inbound messages go to the sink and are acknowledged only once committed; status
reports and attachment look-ups go to the callables the channel's wiring supplies, so the
database stays out of here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import parse_qsl

from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from conversations import MAX_ROW_ID, small_int
from handlers import whatsapp
from handlers.body_limit import FORM, BodyLimit, LimitedBody
from handlers.types import InboundSink

logger = logging.getLogger(__name__)

MAX_EXPIRY: Final = 2**40
"""A link's expiry is a Unix time in seconds: any longer number is not one of ours."""

INBOUND_PATH: Final = "/whatsapp"
STATUS_PATH: Final = "/whatsapp/status"
FILES_PATH: Final = "/whatsapp/files"
"""Attachments (digest charts, exports) by capability URL: Twilio fetches media by URL."""
DEFAULT_FILE_LINK: Final = timedelta(hours=1)
"""How long such a URL opens its file (`[whatsapp] file_link_minutes`)."""
EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
"""Twilio reads our answer as TwiML: an empty <Response/> says "received, nothing to say now"."""
FORM_LIMIT: Final = BodyLimit(max_bytes=64 * 1024, media_types=FORM)
"""Twilio's webhooks are forms of a few KB (some 50 fields with ten media); `[web] max_form_bytes`."""
MAX_FIELDS: Final = 200
"""Fields a webhook form may have; `[web] max_form_fields`."""


class StatusSink(Protocol):
    """Records a delivery status on the outbox row; raises when it could not be stored (Twilio retries)."""

    async def __call__(self, report: whatsapp.StatusReport, *, outbox_id: int | None) -> None: ...


Attachments = Callable[[int], Awaitable[tuple[str, str | None] | None]]
"""An outbox row's attachment by its id: (local path, MIME type), or None."""


def file_signature(auth_token: str, outbox_id: int, expires: int) -> str:
    """An unguessable token for one outbox row's attachment until `expires` (Unix seconds), keyed on the account's secret."""
    return hmac.new(auth_token.encode(), f"file:{outbox_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def routes(
    sink: InboundSink,
    statuses: StatusSink,
    *,
    validator: RequestValidator,
    public_base_url: str,
    clock: Callable[[], datetime],
    limit: BodyLimit = FORM_LIMIT,
    max_fields: int = MAX_FIELDS,
) -> list[BaseRoute]:
    """``POST /whatsapp`` (incoming messages) and ``POST /whatsapp/status`` (delivery status).

    Each refuses a body over `limit` (413), of another type (415) or too slow (408) before it is
    read, a form of more than `max_fields` fields (413) before its signature is computed, and
    an unsigned one (403) before anything else.
    """

    async def signed_form(request: Request) -> dict[str, str] | Response:
        path = request.scope["path"]
        try:
            pairs = parse_qsl((await _body(request)).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields)
        except ValueError:  # more fields than max_fields
            logger.warning("whatsapp: request to %s with too many fields refused", path)
            return Response(status_code=413)
        form = dict(pairs)
        # Twilio signs the URL it called: behind a proxy that is the public one, not request.url
        # (whose building from the scope costs more than this whole line).
        query = request.scope["query_string"].decode("utf-8", "replace")
        url = public_base_url + path + (f"?{query}" if query else "")
        if not whatsapp.is_signed(validator, url, form, request.headers.get("X-Twilio-Signature")):
            logger.warning("whatsapp: request to %s with a missing or wrong signature refused", path)
            return Response(status_code=403)
        return form

    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        try:
            event = whatsapp.parse_inbound(form, received_at=clock())
        except whatsapp.BadRequest as exc:
            logger.warning("whatsapp: unreadable message %s: %s", form.get("MessageSid", "?"), exc)
            return Response(status_code=400)
        try:
            # Acknowledge only what is committed: a 503 makes Twilio try again, and the
            # inbound unique key makes that retry harmless.
            await sink.handle(event)
        except Exception as exc:  # the database is down or failing: nothing was written
            logger.error("whatsapp: message %s not stored (%s), answering 503", event.external_id, type(exc).__name__)
            return Response(status_code=503)
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        try:
            report = whatsapp.parse_status(form)
        except whatsapp.BadRequest as exc:
            logger.warning("whatsapp: unreadable status callback %s: %s", form.get("MessageSid", "?"), exc)
            return Response(status_code=400)
        # Ours, but echoed by Twilio: "²" passes isdigit() and int() refuses it; 40 digits fit no row.
        outbox_id = small_int(request.query_params.get("outbox", ""), MAX_ROW_ID, minimum=1)
        try:
            await statuses(report, outbox_id=outbox_id)
        except Exception as exc:
            logger.error("whatsapp: status of %s not stored (%s)", report.message_sid, type(exc).__name__)
            return Response(status_code=503)
        return Response(status_code=204)

    bounded = [Middleware(LimitedBody, limit=limit)]
    return [
        Route(INBOUND_PATH, inbound, methods=["POST"], middleware=bounded),
        Route(STATUS_PATH, status, methods=["POST"], middleware=bounded),
    ]


async def _body(request: Request) -> bytes:
    """`request.body()` without Starlette's stream generator: the body's chunks from `receive` (LimitedBody's)."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def file_route(auth_token: str, attachments: Attachments, *, clock: Callable[[], datetime]) -> BaseRoute:
    """Serves an outbox row's attachment to whoever holds its signed URL (Twilio) until the URL expires, nothing else."""

    async def serve_file(request: Request) -> Response:
        outbox_id = small_int(str(request.path_params["outbox_id"]), MAX_ROW_ID, minimum=1)
        expires = small_int(str(request.path_params["expires"]), MAX_EXPIRY, minimum=1)
        if outbox_id is None or expires is None:
            return Response(status_code=404)
        signature = file_signature(auth_token, outbox_id, expires)
        if not hmac.compare_digest(str(request.path_params["signature"]), signature) or expires <= clock().timestamp():
            return Response(status_code=404)
        found = await attachments(outbox_id)
        if found is None or not Path(found[0]).is_file():
            return Response(status_code=404)
        path, media_type = found
        return FileResponse(path, media_type=media_type)

    return Route(FILES_PATH + "/{outbox_id}/{expires}/{signature}", serve_file, methods=["GET"])


def media_url(
    public_base_url: str, auth_token: str, *, clock: Callable[[], datetime], valid_for: timedelta = DEFAULT_FILE_LINK
) -> Callable[[int], str]:
    """The signed URL of an outbox row's attachment, as `file_route` serves it, for `valid_for` from now.

    Twilio fetches the media when it sends the message; a later send (a retry) gets a fresh URL.
    """

    def url(outbox_id: int) -> str:
        expires = int((clock() + valid_for).timestamp())
        return f"{public_base_url}{FILES_PATH}/{outbox_id}/{expires}/{file_signature(auth_token, outbox_id, expires)}"

    return url
