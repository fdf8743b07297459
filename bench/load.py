"""Load and memory (issue 8 §3) on a throwaway PostgreSQL database, loopback fakes only.

1. WhatsApp intakes: the app runs as its own processes (`ascolto run --workers WORKERS`, as in
   production), not in this process: here are only the load generator (aiohttp) and FakeTwilio
   (rate limit off, posting STATUS_CALLBACKS for every reply, as Twilio does). CITIZENS citizens
   each write SCRIPT one message at a time as signed webhook POSTs; a citizen writes its next
   message a think time (THINK_SECONDS, uniformly at random) after every reply to the previous
   one reached the fake (the number of replies each step gets is learnt from a warm-up citizen).
   Latency of a message: from sending its POST to the fake recording the first reply to that
   citizen after it. The same run without think time gives the saturation throughput.
2. Telegram outbound: OUTBOX_ROWS rows over CHATS chats, the real dispatcher and TelegramSender
   (1 message/s per chat, AIORateLimiter as bot/channels/telegram.py builds it) against
   FakeTelegram with its real flood policy; the rate as the policy counts it vs 30/s, and its 429s.
3. Memory: VmRSS of this process holding a Core, before and after OPEN_CONVERSATIONS citizens
   each get an open conversation in the database and TURNS pipeline turns run for random ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import signal
import socket
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import httpx
from pydantic import SecretStr
from sqlalchemy import func, insert, select, text
from sqlmodel import col

from bench import Row
from bot.app import build_core
from bot.core import Core
from bot.channels import telegram as telegram_channel
from bot.config import DatabaseSettings, Settings, TelegramSettings
from bot.clock import utc_now
from conversations import Inbound
from handlers import whatsapp, whatsapp_web
from storage import outbox
from storage.db import create_engine, transaction
from storage.models import Citizen, Conversation, Need, OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy
from tests.fakes.twilio_api import CallbackDelivery, FakeMessage, FakeTwilio

ROOT: Final = Path(__file__).resolve().parent.parent

PG_HOST: Final = os.environ.get("ASCOLTO_TEST_PG_HOST", "127.0.0.1")
PG_PORT: Final = int(os.environ.get("ASCOLTO_TEST_PG_PORT", "5432"))
PG_ADMIN_URL: Final = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"

CITIZENS: Final = int(os.environ.get("ASCOLTO_BENCH_CITIZENS", "200"))
SCRIPT: Final = ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa, abito da sola", "Ravenna", "1", "1", "1")
"""A whole intake, as in bench/telegram.py: welcome, consent, category, description, comune, urgency, contact, confirm."""
TARGET_P99_MS: Final = 100.0
DEADLINE_SECONDS: Final = 240.0
WORKERS: Final = int(os.environ.get("ASCOLTO_BENCH_WORKERS", "2"))
"""`ascolto run --workers N`: one per CPU of this 2-CPU machine."""
THINK_SECONDS: Final = (3.0, 10.0)
"""A person reads a reply (10-40 words, ~4 words/s) and taps or types an answer on a phone:
3 to 10 s, uniformly at random (mean 6.5 s). 200 citizens then offer ~200 / 6.5 ≈ 30 messages/s,
all of them in the middle of an intake at once: a peak, not an average day."""
STATUS_CALLBACKS: Final = ("sent", "delivered")
"""What Twilio posts back for each WhatsApp reply (read receipts too when the citizen allows them)."""

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

    async def __aenter__(self) -> _TimedTwilio:
        await super().__aenter__()
        self._callbacks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._callbacks.close()
        await super().__aexit__(*exc)

    async def _post_callback(self, url: str, params: dict[str, str]) -> CallbackDelivery:
        # The same signed POST as FakeTwilio's, through aiohttp: httpx's pool costs CPU in
        # proportion to its open connections, and this process also runs the load generator.
        signature = self.sign(url, params)
        headers = {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": str(uuid.uuid4())}
        try:
            async with self._callbacks.post(url, data=params, headers=headers) as response:
                await response.read()
            delivery = CallbackDelivery(url, params, signature, response.status)
        except aiohttp.ClientError as exc:
            delivery = CallbackDelivery(url, params, signature, None, repr(exc))
        ok = delivery.status_code is not None and delivery.status_code < 400
        self.stats.callbacks_sent += ok
        self.stats.callbacks_failed += not ok
        return delivery

    def _record(self, form: dict[str, str], to: str, from_: str, variables: dict[str, str] | None, media_urls: list[str]) -> FakeMessage:
        record = super()._record(form, to, from_, variables, media_urls)
        number = to.removeprefix("whatsapp:")
        self.arrivals[number].append(time.perf_counter())
        self.arrived[number].set()
        return record


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (/proc/PID/stat fields 14 and 15), in seconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_env(url: str, fake: FakeTwilio, port: int) -> dict[str, str]:
    """The environment of `ascolto run` on loopback `port`, on database `url`, replying to `fake`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASCOLTO_", "TWILIO_"))}
    return env | {
        "ASCOLTO_DATABASE__URL": url,
        "ASCOLTO_APP__LOG_LEVEL": "ERROR",
        "ASCOLTO_WEB__PORT": str(port),
        "ASCOLTO_WHATSAPP__ACCOUNT_SID": fake.account_sid,
        "ASCOLTO_WHATSAPP__AUTH_TOKEN": fake.auth_token,
        "ASCOLTO_WHATSAPP__FROM_NUMBER": fake.sender,
        "ASCOLTO_WHATSAPP__PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ASCOLTO_WHATSAPP__API_BASE_URL": fake.base_url,
        "ASCOLTO_WHATSAPP__MESSAGES_PER_SECOND": "400",  # the setting's maximum: the sender's own pacing out of the way
    }


@contextlib.asynccontextmanager
async def _server(url: str, fake: FakeTwilio, *, workers: int) -> AsyncIterator[tuple[str, list[int]]]:
    """`ascolto run --workers N` as its own processes (as production runs it, and as
    tests/faults/test_worker_killed.py does), replying to the fake; yields its URL and worker pids."""
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    env = server_env(url, fake, port)
    argv = ["-m", "bot", "run", "--workers", str(workers)] if workers else ["-m", "bot", "run"]
    if profile := os.environ.get("ASCOLTO_BENCH_PROFILE"):  # one process under cProfile (diagnosis only)
        argv = ["-m", "cProfile", "-o", profile, *argv]
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as http:
            for _ in range(600):  # imports and migrations: several seconds on 2 busy cores
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(root + "/healthz")).status_code == 200 and len(_children(proc.pid)) >= workers:
                        break
                if proc.returncode is not None:
                    raise RuntimeError(f"ascolto run exited with {proc.returncode}")
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError("ascolto run did not answer /healthz")
        yield root, _children(proc.pid) if workers else [proc.pid]
    finally:
        pids = _children(proc.pid)
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                for pid in [*pids, proc.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                await proc.wait()


@dataclass(frozen=True, slots=True)
class _Scenario:
    label: str
    think: tuple[float, float]
    """Seconds a citizen waits, uniformly at random, between the last reply and its next message."""


PEOPLE: Final = _Scenario("citizens with think time", THINK_SECONDS)
SATURATION: Final = _Scenario("saturation, no think time", (0.0, 0.0))


async def _whatsapp_intakes(url: str) -> list[Row]:
    rows: list[Row] = []
    for scenario in (PEOPLE, SATURATION):
        # A fresh fake and server a scenario: nothing queued from the one before.
        fake = _TimedTwilio(rate=None, auto_statuses=STATUS_CALLBACKS)
        async with fake, _server(url, fake, workers=WORKERS) as (root, pids):
            rows += await _intakes(fake, root, pids, scenario)
    return rows


async def _intakes(fake: _TimedTwilio, root: str, pids: list[int], scenario: _Scenario) -> list[Row]:
    endpoint = root + whatsapp_web.INBOUND_PATH
    # aiohttp, not httpx: httpcore's pool does work proportional to its open connections on every
    # request, and with 200 of them the load generator cost more CPU than the server it measured.
    # force_close: a connection a POST, so none is reused just as uvicorn closes it (its 5 s keep-alive).
    connector = aiohttp.TCPConnector(limit=CITIZENS + 10, force_close=True)
    run_id = uuid.uuid4().hex[:6]
    answered: list[float] = []
    redelivered: list[str] = []
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def post(number: str, body: str) -> None:
            params = fake.inbound_params(number, body)
            started = time.perf_counter()
            for attempt in range(3):
                try:
                    async with http.post(endpoint, data=params, headers={"X-Twilio-Signature": fake.sign(endpoint, params)}) as response:
                        await response.read()
                    break
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    # A kept-alive connection the server closed as we reused it: redeliver the
                    # same MessageSid, as Twilio does (the inbound unique key makes it harmless).
                    redelivered.append(number)
                    if attempt == 2:
                        raise
            answered.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"webhook answered {response.status}")

        # Warm-up citizen: learns how many replies each step gets (and warms every code path of both workers).
        expected: list[int] = []
        warm = f"+39319{int(run_id, 16) % 10_000_000:07d}"
        for body in SCRIPT:
            await post(warm, body)
            while True:  # settle: no new reply for 300 ms
                count = len(fake.arrivals[warm])
                await asyncio.sleep(0.3)
                if len(fake.arrivals[warm]) == count and count > (expected[-1] if expected else 0):
                    break
            expected.append(len(fake.arrivals[warm]))

        latencies: list[float] = []
        rng = random.Random(8)
        numbers = [f"+39310{n:07d}" for n in range(CITIZENS)]
        if scenario is SATURATION:
            numbers = [f"+39311{n:07d}" for n in range(CITIZENS)]

        async def citizen(number: str, think: random.Random) -> None:
            arrivals, arrived = fake.arrivals[number], fake.arrived[number]
            # Citizens start spread over one think time, not all in the same millisecond.
            await asyncio.sleep(think.uniform(0, scenario.think[1]))
            for step, body in enumerate(SCRIPT):
                if step:
                    await asyncio.sleep(think.uniform(*scenario.think))
                before = expected[step - 1] if step else 0
                started = time.perf_counter()
                await post(number, body)
                while len(arrivals) < expected[step]:
                    arrived.clear()
                    await arrived.wait()
                latencies.append(arrivals[before] - started)

        answered.clear()
        cpu_before, own_before = _cpu_seconds(pids), _cpu_seconds([os.getpid()])
        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(citizen(n, random.Random(rng.random())) for n in numbers)), DEADLINE_SECONDS
        )
        elapsed = max(max(fake.arrivals[n]) for n in numbers) - started
        cpu = _cpu_seconds(pids) - cpu_before
        print(f"{scenario.label}: bench process CPU {_cpu_seconds([os.getpid()]) - own_before:.1f} s, "
              f"server {cpu:.1f} s, in {elapsed:.1f} s", file=sys.stderr)
        await asyncio.sleep(0.5)  # let the last status callbacks land before the server stops

    inbound = CITIZENS * len(SCRIPT)
    replies = CITIZENS * expected[-1]
    cut = statistics.quantiles([1000 * s for s in latencies], n=100, method="inclusive")
    p50, p95, p99 = cut[49], cut[94], cut[98]
    acks = statistics.quantiles([1000 * s for s in answered], n=100, method="inclusive")
    verdict = "meets" if p99 < TARGET_P99_MS else "misses"
    think = "no think time" if scenario.think == (0.0, 0.0) else f"think {scenario.think[0]:.0f}-{scenario.think[1]:.0f} s"
    name = f"WhatsApp, {scenario.label}"
    load = f"{CITIZENS} citizens x {len(SCRIPT)} messages, {think}, `run --workers {WORKERS}`"
    rows = [
        Row("load", f"{name}: inbound throughput", inbound / elapsed, "messages/s", load),
        Row("load", f"{name}: replies throughput", replies / elapsed, "messages/s",
            f"{replies} replies in {elapsed:.1f} s, + {len(STATUS_CALLBACKS)} status callbacks each; {len(redelivered)} POSTs redelivered, {fake.stats.callbacks_failed} callbacks refused"),
        Row("load", f"{name}: server CPU an inbound message", 1000 * cpu / inbound, "ms",
            f"utime+stime of the {WORKERS} workers, reply and callbacks included"),
        Row("load", f"{name}: POST -> webhook's 200, p50 / p99", acks[49], "ms", f"p99 {acks[98]:,.1f} ms: the inbound half alone"),
        Row("load", f"{name}: POST -> first reply, p50", p50, "ms", "PostgreSQL, Twilio rate limit off"),
        Row("load", f"{name}: POST -> first reply, p95", p95, "ms", ""),
    ]
    if scenario is SATURATION:
        rows.append(Row("load", f"{name}: POST -> first reply, p99", p99, "ms", "queueing at saturation, no target"))
    else:
        rows.append(Row("load", f"{name}: POST -> first reply, p99", p99, "ms", f"{verdict} the target < {TARGET_P99_MS:.0f} ms"))
    return rows


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
                    times = sorted(m.at for m in fake.sent[-OUTBOX_ROWS:])
                    startup = times[0] - started
                finally:
                    stop.set()
                    await sending
            finally:
                await channel.shutdown()
        finally:
            await core.close()
    # On the fake's clock, as its flood policy counts: from the first message it accepted to the last.
    # The best schedule the policy allows (30 in any second, each chat 1/s with a bucket of 3) sends
    # 30 at once, then 30 a second later, ...: its last message comes (N - 30) / 30 s after the first,
    # so N / (span + 1 s) is exactly 30/s for it, and that is the rate compared with 30/s here.
    policy = FloodPolicy()
    span = times[-1] - times[0]
    rate = OUTBOX_ROWS / (span + 1)
    allowed = min(float(policy.global_per_second), CHATS * policy.per_chat_refill_per_second)
    share = rate / allowed
    floods = fake.stats.flood_429 - before_429
    verdict = "meets" if share >= TARGET_RATE_SHARE and floods == 0 else "misses"
    load = f"{OUTBOX_ROWS} rows over {CHATS} chats / (first to last {span:.2f} s + 1 s); first after {startup:.2f} s"
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
