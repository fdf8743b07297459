"""WhatsApp: server CPU an inbound message, Ascolto (`ascolto run`, SQLite FULL) beside a minimal signed-insert-reply bot.

Issue 18's target: Ascolto's CPU an inbound message, its replies and their status callbacks
included, at most TARGET_MS, i.e. within 5x of `bench/minimal_whatsapp.py` (signature, one
INSERT, one reply). Both servers run as their own process, one event loop each, against the
same FakeTwilio on loopback (rate limit off; `sent` and `delivered` posted back for every
message that asked for callbacks, as Twilio does: Ascolto's replies ask, the minimal bot's do
not). The load is the same for both: CITIZENS citizens side by side, each writing SCRIPT
(a whole intake) one message at a time as signed POSTs, the next one as soon as the replies to
the previous one reached the fake (a closed loop, no think time). CPU is utime + stime of the
server process (every thread) from the first POST until every reply and callback has landed,
divided by the inbound messages: other programs on a shared machine disturb it far less than
the rates, which are shown too. Both servers are started once and measured ROUNDS times in
turn (minimal, Ascolto, minimal, ...), fresh citizens every round; the table shows the median
round with the range.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp
import httpx

from bench import Row
from bench.load import ROOT, SCRIPT, STATUS_CALLBACKS, _cpu_seconds, _free_port, _TimedTwilio, server_env
from handlers import whatsapp_web

CITIZENS: Final = int(os.environ.get("ASCOLTO_BENCH_WA_CITIZENS", "20"))
ROUNDS: Final = int(os.environ.get("ASCOLTO_BENCH_WA_ROUNDS", "5"))
TARGET_MS: Final = 3.0
TARGET_FACTOR: Final = 5.0
DEADLINE_SECONDS: Final = 180.0
BEFORE: Final = [tree for tree in os.environ.get("ASCOLTO_BENCH_BEFORE", "").split(":") if tree]
"""Diagnosis: checkouts of other commits (`a:b`) whose `ascolto run` is measured in turn with this tree's."""


@dataclass(frozen=True, slots=True)
class Measured:
    cpu_ms: float
    """Server CPU an inbound message."""
    rate: float
    """Inbound messages a second (wall clock: the machine's load moves it)."""
    replies: int
    callbacks: int


@dataclass(frozen=True, slots=True)
class _Server:
    label: str
    root: str
    pid: int


async def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-wa-") as folder:
        fake = _TimedTwilio(rate=None, auto_statuses=STATUS_CALLBACKS)
        async with fake:
            async with contextlib.AsyncExitStack() as stack:
                minimal = await stack.enter_async_context(
                    _process(fake, ["-m", "bench.minimal_whatsapp"], f"sqlite+aiosqlite:///{folder}/minimal.sqlite3", "minimal")
                )
                ascolto = await stack.enter_async_context(
                    _process(fake, ["-m", "bot", "run"], f"sqlite+aiosqlite:///{folder}/ascolto.sqlite3", "ascolto")
                )
                servers = [minimal, ascolto]
                for n, tree in enumerate(BEFORE):  # other trees' `ascolto run` measured in turn with this one (A/B)
                    url = f"sqlite+aiosqlite:///{folder}/before{n}.sqlite3"
                    servers.append(await stack.enter_async_context(_process(fake, ["-m", "bot", "run"], url, tree, cwd=Path(tree))))
                measured: dict[str, list[Measured]] = {s.label: [] for s in servers}
                expected = {s.label: await _warm_up(fake, s) for s in servers}
                for round_ in range(ROUNDS):
                    for server in servers:
                        result = await _round(fake, server, expected[server.label])
                        measured[server.label].append(result)
                        print(f"whatsapp {server.label} round {round_ + 1}: {result.cpu_ms:.2f} ms CPU a message, "
                              f"{result.rate:.1f} messages/s", file=sys.stderr, flush=True)
    rows = _rows(measured[minimal.label], measured[ascolto.label], replies_per_intake=expected[ascolto.label][-1])
    if REFUSED:
        rows.append(Row("whatsapp", "POSTs answered 503 and redelivered", len(REFUSED), "POSTs", "the machine was overloaded"))
    for tree in BEFORE:
        before = [m.cpu_ms for m in measured[tree]]
        rows.append(Row("whatsapp", f"[{tree}] Ascolto: server CPU an inbound message", statistics.median(before), "ms",
                        f"median of {len(before)} rounds, range {min(before):.2f}-{max(before):.2f}, measured in turn with the above"))
    return rows


def _rows(minimal: Sequence[Measured], ascolto: Sequence[Measured], *, replies_per_intake: int) -> list[Row]:
    def cell(values: Sequence[float]) -> tuple[float, str]:
        return statistics.median(values), f"median of {len(values)} rounds, range {min(values):.2f}-{max(values):.2f}"

    load = f"{CITIZENS} citizens x {len(SCRIPT)} messages, no think time, SQLite FULL, one process"
    mine, mine_range = cell([m.cpu_ms for m in minimal])
    ours, ours_range = cell([m.cpu_ms for m in ascolto])
    ratios = [a.cpu_ms / m.cpu_ms for m, a in zip(minimal, ascolto)]
    ratio, ratio_range = cell(ratios)
    verdict = "meets" if ours <= TARGET_MS and ratio <= TARGET_FACTOR else "misses"
    return [
        Row("whatsapp", "minimal signed-insert-reply bot: server CPU an inbound message", mine, "ms",
            f"{mine_range}; 1 reply, no callbacks"),
        Row("whatsapp", "Ascolto `ascolto run`: server CPU an inbound message", ours, "ms",
            f"{ours_range}; {replies_per_intake} replies an intake, {len(STATUS_CALLBACKS)} callbacks each; {verdict} the target <= {TARGET_MS:.0f} ms"),
        Row("whatsapp", "ratio Ascolto / minimal, CPU an inbound message", ratio, "×",
            f"{ratio_range}, each within its round; target <= {TARGET_FACTOR:.0f}"),
        Row("whatsapp", "minimal bot: inbound throughput", cell([m.rate for m in minimal])[0], "messages/s", load),
        Row("whatsapp", "Ascolto: inbound throughput", cell([m.rate for m in ascolto])[0], "messages/s", load),
    ]


@contextlib.asynccontextmanager
async def _process(fake: _TimedTwilio, argv: list[str], url: str, label: str, cwd: Path = ROOT) -> AsyncIterator[_Server]:
    """A server as its own process, configured as bench/load.py configures `ascolto run`."""
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    env = server_env(url, fake, port)
    if os.environ.get("ASCOLTO_BENCH_PROFILE") and label == "ascolto":  # diagnosis only
        argv = ["-m", "cProfile", "-o", os.environ["ASCOLTO_BENCH_PROFILE"], *argv]
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as http:
            for _ in range(900):  # imports and migrations: several seconds on 2 busy cores
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(root + "/healthz")).status_code == 200:
                        break
                if proc.returncode is not None:
                    raise RuntimeError(f"{label} server exited with {proc.returncode}")
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError(f"{label} server did not answer /healthz")
        yield _Server(label, root, proc.pid)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)  # SIGINT under cProfile would lose the profile: uvicorn handles SIGTERM
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


REFUSED: list[str] = []
"""503s answered (the database busy past its timeout on an overloaded machine): redelivered, as Twilio's retry would."""


async def _post(http: aiohttp.ClientSession, fake: _TimedTwilio, endpoint: str, number: str, body: str) -> None:
    params = fake.inbound_params(number, body)
    for _attempt in range(5):
        async with http.post(endpoint, data=params, headers={"X-Twilio-Signature": fake.sign(endpoint, params)}) as response:
            await response.read()
        if response.status != 503:
            break
        REFUSED.append(endpoint.rsplit("/", 1)[0])
    if response.status != 200:
        raise RuntimeError(f"webhook answered {response.status}")


def _thread_cpu(pid: int) -> float:
    """utime + stime of the process's main thread (the event loop), in seconds."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _session() -> aiohttp.ClientSession:
    # A connection a POST, as bench/load.py (none reused just as uvicorn closes it).
    connector = aiohttp.TCPConnector(limit=CITIZENS + 10, force_close=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def _warm_up(fake: _TimedTwilio, server: _Server) -> list[int]:
    """One citizen through the script: how many replies it has after each step (and every code path warm)."""
    endpoint = server.root + whatsapp_web.INBOUND_PATH
    number = f"+39318{uuid.uuid4().int % 10_000_000:07d}"
    expected: list[int] = []
    async with _session() as http:
        for body in SCRIPT:
            await _post(http, fake, endpoint, number, body)
            while True:  # settle: no new reply for 300 ms
                count = len(fake.arrivals[number])
                await asyncio.sleep(0.3)
                if len(fake.arrivals[number]) == count and count > (expected[-1] if expected else 0):
                    break
            expected.append(len(fake.arrivals[number]))
    await _settled(fake)
    return expected


async def _settled(fake: _TimedTwilio) -> None:
    """Until every callback asked for has been posted and answered."""
    deadline = time.perf_counter() + 30
    while len(fake._tasks) and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)


async def _round(fake: _TimedTwilio, server: _Server, expected: list[int]) -> Measured:
    endpoint = server.root + whatsapp_web.INBOUND_PATH
    run = uuid.uuid4().int % 1000
    numbers = [f"+3933{run:03d}{n:05d}" for n in range(CITIZENS)]
    callbacks_before = fake.stats.callbacks_sent + fake.stats.callbacks_failed

    async def citizen(http: aiohttp.ClientSession, number: str) -> None:
        arrivals, arrived = fake.arrivals[number], fake.arrived[number]
        for step, body in enumerate(SCRIPT):
            await _post(http, fake, endpoint, number, body)
            while len(arrivals) < expected[step]:
                arrived.clear()
                await arrived.wait()

    async with _session() as http:
        cpu_before = _cpu_seconds([server.pid])
        main_before = _thread_cpu(server.pid)
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(citizen(http, n) for n in numbers)), DEADLINE_SECONDS)
        elapsed = time.perf_counter() - started
        await _settled(fake)
        cpu = _cpu_seconds([server.pid]) - cpu_before
        main = _thread_cpu(server.pid) - main_before
    inbound = CITIZENS * len(SCRIPT)
    print(f"  {server.label}: {REFUSED.count(server.root)} POSTs answered 503 so far; main thread {1000 * main / inbound:.2f} ms a message, other threads {1000 * (cpu - main) / inbound:.2f}",
          file=sys.stderr)
    return Measured(
        cpu_ms=1000 * cpu / inbound,
        rate=inbound / elapsed,
        replies=CITIZENS * expected[-1],
        callbacks=fake.stats.callbacks_sent + fake.stats.callbacks_failed - callbacks_before,
    )
