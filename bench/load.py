"""Load and memory (issue 8 §3) on a throwaway PostgreSQL database, loopback fakes only.

1. WhatsApp intakes: CITIZENS simulated citizens side by side, each writing SCRIPT one message
   at a time through the real Starlette app (signed webhook POSTs), replies sent by the real
   dispatcher and WhatsAppSender to FakeTwilio (rate limit off). Latency of a message: from
   sending its POST to the fake recording the first reply to that citizen after it. A citizen
   sends its next message once every reply to the previous one has reached the fake (the number
   of replies each step gets is learnt from one warm-up citizen first).
2. Telegram outbound: OUTBOX_ROWS rows over CHATS chats, the real dispatcher and TelegramSender
   (1 message/s per chat, AIORateLimiter as bot/telegram_channel.py builds it) against
   FakeTelegram with its real flood policy; sent/s vs min(30/s, chats x 1/s), and its 429s.
3. Memory: VmRSS of this process holding a Core, before and after OPEN_CONVERSATIONS citizens
   each get an open conversation in the database and TURNS pipeline turns run for random ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

import httpx
from pydantic import SecretStr
from sqlalchemy import func, insert, select, text
from sqlmodel import col

from bench import Row
from bot import telegram_channel, whatsapp_channel
from bot.app import Core, build_core
from bot.config import DatabaseSettings, Settings, TelegramSettings, WhatsAppSettings
from bot.pipeline import utc_now
from bot.web import build_web_app
from conversations import Inbound
from handlers import whatsapp
from storage import outbox
from storage.db import create_engine, transaction
from storage.models import Citizen, Conversation, Need, OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy
from tests.fakes.twilio_api import FakeMessage, FakeTwilio, serve_loopback

PG_HOST: Final = os.environ.get("ASCOLTO_TEST_PG_HOST", "127.0.0.1")
PG_PORT: Final = int(os.environ.get("ASCOLTO_TEST_PG_PORT", "5432"))
PG_ADMIN_URL: Final = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"

CITIZENS: Final = 200
SCRIPT: Final = ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa, abito da sola", "Ravenna", "1", "1", "1")
"""A whole intake, as in bench/telegram.py: welcome, consent, category, description, comune, urgency, contact, confirm."""
TARGET_P99_MS: Final = 100.0
DEADLINE_SECONDS: Final = 120.0

CHATS: Final = 100
OUTBOX_ROWS: Final = 600
TARGET_RATE_SHARE: Final = 0.95

OPEN_CONVERSATIONS: Final = 100_000
TURNS: Final = 2_000
CHUNK: Final = 5_000
TARGET_GROWTH_MB: Final = 50.0


async def run() -> list[Row]:
    name = f"ascolto_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    rows: list[Row] = []
    try:
        for part in (_whatsapp_intakes, _telegram_outbound, _memory):
            try:
                rows += await part(url)
            except Exception as exc:  # ship the rows that work, say which did not
                rows.append(Row("load", part.__name__.strip("_"), float("nan"), "", f"failed: {type(exc).__name__}: {exc}"[:160]))
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows


async def _admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


# --- 1. WhatsApp intakes ---------------------------------------------------------------------


class _TimedTwilio(FakeTwilio):
    """FakeTwilio that also notes when each message to a number was recorded."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def _record(self, form: dict[str, str], to: str, from_: str, variables: dict[str, str] | None, media_urls: list[str]) -> FakeMessage:
        record = super()._record(form, to, from_, variables, media_urls)
        number = to.removeprefix("whatsapp:")
        self.arrivals[number].append(time.perf_counter())
        self.arrived[number].set()
        return record


class _LateApp:
    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def _whatsapp_app(url: str, fake: FakeTwilio) -> AsyncIterator[tuple[Core, str]]:
    late = _LateApp()
    async with serve_loopback(late) as root:
        settings = Settings(
            database=DatabaseSettings(url=url),
            whatsapp=WhatsAppSettings(
                account_sid=SecretStr(fake.account_sid),
                auth_token=SecretStr(fake.auth_token),
                from_number=fake.sender.removeprefix("whatsapp:"),
                public_base_url=root,
                api_base_url=fake.base_url,
                messages_per_second=400,  # the setting's maximum: the sender's own pacing out of the way
            ),
        )
        core = await build_core(settings)  # migrates the first time: outside the measured time
        channel = await whatsapp_channel.build(core)
        dispatcher = core.dispatcher({channel.name: channel.sender})
        late.app = build_web_app(core, channel.routes)
        stop = asyncio.Event()
        sending = asyncio.create_task(dispatcher.run_forever(stop))
        try:
            yield core, root
        finally:
            stop.set()
            await sending
            if channel.shutdown is not None:
                await channel.shutdown()
            await core.close()


async def _whatsapp_intakes(url: str) -> list[Row]:
    fake = _TimedTwilio(rate=None)
    async with fake, _whatsapp_app(url, fake) as (core, root):
        endpoint = root + whatsapp_channel.INBOUND_PATH
        limits = httpx.Limits(max_connections=CITIZENS + 10, max_keepalive_connections=CITIZENS + 10)
        async with httpx.AsyncClient(trust_env=False, timeout=60.0, limits=limits) as http:

            async def post(number: str, body: str) -> None:
                params = fake.inbound_params(number, body)
                response = await http.post(endpoint, data=params, headers={"X-Twilio-Signature": fake.sign(endpoint, params)})
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}")

            # Warm-up citizen: learns how many replies each step gets (and warms every code path).
            expected: list[int] = []
            warm = "+393109999999"
            for body in SCRIPT:
                await post(warm, body)
                while True:  # settle: no new reply for 300 ms
                    count = len(fake.arrivals[warm])
                    await asyncio.sleep(0.3)
                    if len(fake.arrivals[warm]) == count and count > (expected[-1] if expected else 0):
                        break
                expected.append(len(fake.arrivals[warm]))

            latencies: list[float] = []

            async def citizen(n: int) -> None:
                number = f"+39310{n:07d}"
                arrivals, arrived = fake.arrivals[number], fake.arrived[number]
                for step, body in enumerate(SCRIPT):
                    before = expected[step - 1] if step else 0
                    started = time.perf_counter()
                    await post(number, body)
                    while len(arrivals) < expected[step]:
                        arrived.clear()
                        await arrived.wait()
                    latencies.append(arrivals[before] - started)

            needs_before = await _count(core, Need)
            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(citizen(n) for n in range(CITIZENS))), DEADLINE_SECONDS)
            elapsed = max(max(fake.arrivals[f"+39310{n:07d}"]) for n in range(CITIZENS)) - started
            needs = await _count(core, Need) - needs_before

    inbound = CITIZENS * len(SCRIPT)
    replies = CITIZENS * expected[-1]
    cut = statistics.quantiles([1000 * s for s in latencies], n=100, method="inclusive")
    p50, p95, p99 = cut[49], cut[94], cut[98]
    load = f"{CITIZENS} citizens side by side, {len(SCRIPT)} messages each (whole intake), {needs} needs filed"
    verdict = "meets" if p99 < TARGET_P99_MS else "misses"
    return [
        Row("load", "WhatsApp intake, inbound throughput", inbound / elapsed, "messages/s", load),
        Row("load", "WhatsApp intake, replies throughput", replies / elapsed, "messages/s", f"{replies} replies to FakeTwilio in {elapsed:.1f} s"),
        Row("load", "WhatsApp POST -> first reply, p50", p50, "ms", "PostgreSQL, rate limit off"),
        Row("load", "WhatsApp POST -> first reply, p95", p95, "ms", ""),
        Row("load", "WhatsApp POST -> first reply, p99", p99, "ms", f"{verdict} the target < {TARGET_P99_MS:.0f} ms"),
    ]


async def _count(core: Core, model: Any) -> int:
    async with core.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- 2. Telegram outbound ----------------------------------------------------------------------


async def _telegram_outbound(url: str) -> list[Row]:
    async with FakeTelegram(flood=FloodPolicy()) as fake:
        settings = Settings(
            database=DatabaseSettings(url=url),
            telegram=TelegramSettings(
                token=SecretStr(fake.token), base_url=fake.base_url, base_file_url=fake.base_file_url, per_chat_per_second=1.0
            ),
        )
        core = await build_core(settings)
        try:
            channel = await telegram_channel.build(core)  # AIORateLimiter(max_retries=0), as in production
            assert channel.startup is not None and channel.shutdown is not None
            await channel.startup()
            try:
                now = utc_now()
                first_chat = 7_000_000
                async with transaction(core.sessions) as session:
                    for n in range(OUTBOX_ROWS):  # round robin: chat after chat, as replies would arrive
                        chat = first_chat + n % CHATS
                        await outbox.enqueue(
                            session, channel="telegram", recipient=str(chat), citizen_id=None, text=f"messaggio {n}", now=now
                        )
                before_sends, before_429 = fake.stats.sends, fake.stats.flood_429
                dispatcher = core.dispatcher({channel.name: channel.sender})
                stop = asyncio.Event()
                started = time.perf_counter()
                sending = asyncio.create_task(dispatcher.run_forever(stop))
                try:
                    deadline = started + DEADLINE_SECONDS
                    while fake.stats.sends - before_sends < OUTBOX_ROWS:
                        if time.perf_counter() > deadline:
                            raise TimeoutError(f"only {fake.stats.sends - before_sends} of {OUTBOX_ROWS} sent")
                        await asyncio.sleep(0.01)
                    last = max(m.at for m in fake.sent)
                finally:
                    stop.set()
                    await sending
            finally:
                await channel.shutdown()
        finally:
            await core.close()
    # SentMessage.at is on the fake's clock (time.monotonic, as perf_counter here on Linux).
    elapsed = last - started if abs(last - time.perf_counter()) < 3600 else time.perf_counter() - started
    rate = OUTBOX_ROWS / elapsed
    allowed = min(float(FloodPolicy().global_per_second), CHATS * 1.0)
    share = rate / allowed
    floods = fake.stats.flood_429 - before_429
    verdict = "meets" if share >= TARGET_RATE_SHARE and floods == 0 else "misses"
    load = f"{OUTBOX_ROWS} outbox rows over {CHATS} chats, in {elapsed:.1f} s"
    return [
        Row("load", "Telegram outbound, real flood policy", rate, "messages/s", load),
        Row("load", f"Telegram outbound / allowed {allowed:.0f}/s", 100 * share, "%", f"{verdict} the target ≥ 95 % with 0 429s"),
        Row("load", "Telegram outbound, 429s from the fake", floods, "429s", ""),
    ]


# --- 3. Memory -----------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _inbound(number: str, body: str, now: datetime) -> Inbound:
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": f"whatsapp:{number}", "Body": body}
    return whatsapp.parse_inbound(form, received_at=now)


async def _memory(url: str) -> list[Row]:
    core = await build_core(Settings(database=DatabaseSettings(url=url)))
    try:
        # A template state: one citizen through consent and category, now asked for the description.
        template_number = "+393209999999"
        for body in SCRIPT[:4]:
            await core.pipeline.handle(_inbound(template_number, body, utc_now()))
        async with core.sessions() as session:
            citizen = (await session.execute(select(Citizen).where(col(Citizen.external_id) == template_number))).scalar_one()
            state = await session.get(Conversation, citizen.id)
            assert state is not None and state.flow_id is not None, "the template conversation is not open"
        rng = random.Random(8)
        for _ in range(50):  # warm-up turns: caches, pools, compiled statements
            await core.pipeline.handle(_inbound(template_number, SCRIPT[4], utc_now()))
        gc.collect()
        before = _rss_mb()

        now = utc_now()
        numbers = [f"+39320{n:07d}" for n in range(OPEN_CONVERSATIONS)]
        started = time.perf_counter()
        for start in range(0, OPEN_CONVERSATIONS, CHUNK):
            chunk = numbers[start : start + CHUNK]
            async with core.db.begin() as conn:
                await conn.execute(
                    insert(Citizen),
                    [
                        {
                            "channel": citizen.channel, "external_id": number, "language": citizen.language,
                            "consent_version": citizen.consent_version, "consent_at": citizen.consent_at,
                            "is_unreachable": False, "last_inbound_at": now, "created_at": now,
                        }
                        for number in chunk
                    ],
                )
                ids = (await conn.execute(
                    select(col(Citizen.id)).where(col(Citizen.channel) == citizen.channel, col(Citizen.external_id).in_(chunk))
                )).scalars().all()
                await conn.execute(
                    insert(Conversation),
                    [
                        {
                            "citizen_id": i, "flow_id": state.flow_id, "flow_version": state.flow_version, "step_id": state.step_id,
                            "answers": state.answers, "history": state.history, "misses": 0, "version": state.version,
                            "updated_at": now,
                        }
                        for i in ids
                    ],
                )
        loaded = time.perf_counter() - started
        open_count = await _count(core, Conversation)

        started = time.perf_counter()
        for _ in range(TURNS):
            await core.pipeline.handle(_inbound(rng.choice(numbers), SCRIPT[4], utc_now()))
        turns = time.perf_counter() - started
        gc.collect()
        after = _rss_mb()
    finally:
        await core.close()
    growth = after - before
    verdict = "meets" if growth < TARGET_GROWTH_MB else "misses"
    return [
        Row("load", "RSS before, Core built and warm", before, "MB", "VmRSS of the bench process"),
        Row("load", f"RSS after {OPEN_CONVERSATIONS:,} open conversations + {TURNS:,} turns", after, "MB",
            f"{open_count:,} conversation rows; insert {loaded:.0f} s, turns {TURNS / turns:.0f}/s"),
        Row("load", "RSS growth", growth, "MB", f"{verdict} the target < {TARGET_GROWTH_MB:.0f} MB"),
    ]
