"""WhatsApp's HTTP edge alone: signatures first, then the sink or the status callable; no database behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from handlers.whatsapp import StatusReport
from handlers.whatsapp_web import EMPTY_TWIML, file_route, file_signature, media_url, routes
from tests.helpers.clock import FakeClock
from tests.helpers.sink import RecordingSink

TOKEN = "12345678901234567890123456789012"
PUBLIC = "https://ascolto.example.org"
SID = "SM" + "0" * 32
MESSAGE = {"MessageSid": SID, "From": "whatsapp:+393331234567", "Body": "ciao"}


@dataclass
class Edge:
    """The routes with a recording sink and status callable; `sink.failing` makes both raise."""

    clock: FakeClock
    sink: RecordingSink = field(default_factory=RecordingSink)
    statuses: list[tuple[StatusReport, int | None]] = field(default_factory=list)
    files: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    looked_up: list[int] = field(default_factory=list)

    async def record(self, report: StatusReport, *, outbox_id: int | None) -> None:
        if self.sink.failing:
            raise ConnectionError("database down")
        self.statuses.append((report, outbox_id))

    async def attachment(self, outbox_id: int) -> tuple[str, str | None] | None:
        self.looked_up.append(outbox_id)
        return self.files.get(outbox_id)

    def client(self) -> httpx.AsyncClient:
        app = Starlette(
            routes=[
                *routes(self.sink, self.record, validator=RequestValidator(TOKEN), public_base_url=PUBLIC, clock=self.clock),
                file_route(TOKEN, self.attachment, clock=self.clock),
            ]
        )
        # The app sees http://internal, as behind a proxy: signatures are checked against PUBLIC.
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal")

    async def post(self, path: str, form: dict[str, str], *, signature: str | None = None) -> httpx.Response:
        sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form) if signature is None else signature
        async with self.client() as client:
            return await client.post(path, data=form, headers={"X-Twilio-Signature": sig})


@pytest.fixture
def edge(clock: FakeClock) -> Edge:
    return Edge(clock)


async def test_a_signed_message_goes_to_the_sink_and_is_answered_with_empty_twiml(edge: Edge) -> None:
    response = await edge.post("/whatsapp", MESSAGE)
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    [event] = edge.sink.events
    assert (event.external_id, event.sender, event.text, event.received_at) == (SID, "+393331234567", "ciao", edge.clock.now)


@pytest.mark.parametrize("signature", ["", "forged"])
async def test_an_unsigned_request_is_403_and_reaches_nothing(edge: Edge, signature: str) -> None:
    assert (await edge.post("/whatsapp", MESSAGE, signature=signature)).status_code == 403
    status = {"MessageSid": SID, "MessageStatus": "delivered"}
    assert (await edge.post("/whatsapp/status", status, signature=signature)).status_code == 403
    assert edge.sink.events == [] and edge.statuses == []


async def test_the_signature_of_the_url_the_app_sees_is_refused(edge: Edge) -> None:
    signature = RequestValidator(TOKEN).compute_signature("http://internal/whatsapp", MESSAGE)
    assert (await edge.post("/whatsapp", MESSAGE, signature=signature)).status_code == 403


async def test_an_unreadable_message_is_400(edge: Edge) -> None:
    assert (await edge.post("/whatsapp", {"From": "whatsapp:+393331234567", "Body": "ciao"})).status_code == 400
    assert edge.sink.events == []


async def test_a_message_the_sink_could_not_store_is_503(edge: Edge) -> None:
    edge.sink.failing = True
    assert (await edge.post("/whatsapp", MESSAGE)).status_code == 503


async def test_a_status_goes_to_the_status_callable_with_its_outbox_id(edge: Edge) -> None:
    form = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "63016"}
    assert (await edge.post("/whatsapp/status?outbox=42", form)).status_code == 204
    assert (await edge.post("/whatsapp/status?outbox=x", form)).status_code == 204
    assert edge.statuses == [
        (StatusReport(message_sid=SID, status="failed", error_code="63016"), 42),
        (StatusReport(message_sid=SID, status="failed", error_code="63016"), None),
    ]


@pytest.mark.parametrize("raw", ["²", "፩", "9" * 40, "1" * 5000, "-1", "0"])
async def test_an_outbox_id_int_refuses_or_no_row_can_have_is_no_id(edge: Edge, raw: str) -> None:
    """`?outbox=²` passed `isdigit` and made `int()` raise (500); 40 digits reached the database (503)."""
    form = {"MessageSid": SID, "MessageStatus": "delivered"}
    assert (await edge.post(f"/whatsapp/status?outbox={quote(raw)}", form)).status_code == 204
    assert edge.statuses == [(StatusReport(message_sid=SID, status="delivered", error_code=None), None)]


@pytest.mark.parametrize("raw", ["²", "9" * 40, "1" * 5000])
async def test_a_file_id_int_refuses_is_404_and_looks_nothing_up(edge: Edge, raw: str) -> None:
    expires = 4_102_444_800  # 2100-01-01: a link that has not expired
    async with edge.client() as client:
        assert (await client.get(f"/whatsapp/files/{raw}/{expires}/{file_signature(TOKEN, 1, expires)}")).status_code == 404
        assert (await client.get(f"/whatsapp/files/1/{raw}/{file_signature(TOKEN, 1, expires)}")).status_code == 404
    assert edge.looked_up == []


async def test_a_status_that_could_not_be_stored_is_503_and_an_unknown_one_400(edge: Edge) -> None:
    assert (await edge.post("/whatsapp/status", {"MessageSid": SID, "MessageStatus": "lost"})).status_code == 400
    edge.sink.failing = True
    assert (await edge.post("/whatsapp/status", {"MessageSid": SID, "MessageStatus": "read"})).status_code == 503


async def test_a_file_is_served_only_by_its_signed_url(edge: Edge, tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n")
    edge.files = {7: (str(chart), "image/png"), 8: (str(tmp_path / "gone.png"), "image/png")}
    url = media_url(PUBLIC, TOKEN, clock=edge.clock)
    until = int(edge.clock.now.timestamp()) + 3600  # an hour by default
    assert url(7) == f"{PUBLIC}/whatsapp/files/7/{until}/{file_signature(TOKEN, 7, until)}"
    async with edge.client() as client:
        served = await client.get(url(7).removeprefix(PUBLIC))
        assert served.status_code == 200 and served.content == chart.read_bytes()
        assert served.headers["content-type"] == "image/png"
        assert (await client.get(f"/whatsapp/files/7/{until}/{file_signature(TOKEN, 8, until)}")).status_code == 404
        assert (await client.get(f"/whatsapp/files/x/{until}/{file_signature(TOKEN, 7, until)}")).status_code == 404
        assert (await client.get(url(8).removeprefix(PUBLIC))).status_code == 404  # the row's file is gone
        assert (await client.get(url(9).removeprefix(PUBLIC))).status_code == 404  # no such row
    assert edge.looked_up == [7, 8, 9]  # a wrong signature looks nothing up
