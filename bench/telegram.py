"""Telegram throughput: updates a second through Ascolto's full pipeline vs a bare PTB echo bot, same fake.

Both bots get the same load on the same loopback fake Bot API: CONNECTIONS chats side by
side, each writing the intake (MESSAGES) one message after the other, delivered as
webhook POSTs the way Telegram does (the next update of a chat after the 2xx of
the previous one). The clock runs from the first POST to the last reply accepted
by the fake.

- echo: PTB's Application, one MessageHandler that answers with the same text.
- Ascolto: webhook -> secret check -> pipeline (engine, one SQLite transaction,
  synchronous=FULL) -> outbox -> dispatcher -> TelegramSender -> fake.

Telegram's flood limits are off on both sides (fake, AIORateLimiter, per-chat
pacing): with them on both bots would measure Telegram's 30 messages/s, not
themselves. Each level runs ROUNDS rounds of echo, FULL, NORMAL in turn; a ratio
is taken within its round.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr
from sqlalchemy import event, func, select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

from bench import Row
from bench.load import SCRIPT
from bot.app import build_core
from bot.core import Core
from bot.channels.telegram import build
from bot.channels.web import build_web_app
from bot.config import DatabaseSettings, LimitsSettings, Settings, TelegramSettings
from handlers.telegram_intake import SECRET_HEADER
from storage import outbox, plain
from storage.models import OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegram, FloodPolicy, serve_loopback

CONNECTIONS: Final = (10, 40)
"""Chats written to side by side; 40 is Telegram's default max_connections for a webhook."""
MESSAGES: Final = SCRIPT
"""A whole intake: welcome, consent, category, description, comune, urgency, contact, confirm."""
UPDATES: Final = 360
"""At each level: with fewer chats, each chat goes through the intake several times."""
WARMUP_CHATS: Final = 2
SECRET: Final = "bench-secret"
DEADLINE_SECONDS: Final = 60.0
TARGET_RATIO: Final = 0.5


ROUNDS: Final = 5
"""Echo, FULL and NORMAL are measured in turn this many times at each level: on a shared machine the
echo bot alone moves by 2-3x between runs, so each ratio is taken against the echo run of its own
round, and the table shows the median round with the range. Five, not three: with three, runs of
one tree gave medians 0.42 and 0.54 at 10 connections (docs/performance.md, tenth pass)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """One measurement: updates a second (wall clock), and CPU milliseconds an update (the process,
    every thread: aiosqlite's included), which other programs on the machine disturb far less."""

    rate: float
    cpu_ms: float
    statements: float = 0.0
    """Database statements an update (Ascolto only), BEGIN included (a COMMIT counts as a transaction): steady where CPU is not."""
    transactions: float = 0.0
    claims: float = 0.0
    """The dispatcher's claim transactions an update."""


async def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as folder:
        async with FakeTelegram(flood=FloodPolicy(enabled=False)) as fake:
            for n, chats in enumerate(CONNECTIONS):
                load = f"{UPDATES} updates, {chats} chats side by side"
                echo: list[Measured] = []
                ours: dict[str, list[Measured]] = {"FULL": [], "NORMAL": []}
                for round_ in range(ROUNDS):
                    first = (n * ROUNDS + round_ + 1) * 1_000_000
                    echo.append(await _measure(fake, _echo_bot, chats=chats, first_chat=first))
                    # FULL is the default (an acknowledged need survives a power cut); NORMAL shows what
                    # the per-commit fsync costs, on the same code.
                    for sync, offset in (("FULL", 500_000), ("NORMAL", 700_000)):
                        database = Path(folder) / f"bench-{chats}-{sync}-{round_}.sqlite3"
                        ours[sync].append(await _measure(fake, _ascolto(database, sync), chats=chats, first_chat=first + offset))
                rows += [
                    Row("telegram", f"bare PTB echo bot, {chats} connections", _median([m.rate for m in echo]), "updates/s", f"{load}, {_spread([m.rate for m in echo])}"),
                    Row("telegram", f"bare PTB echo bot, {chats} connections, CPU", _median([m.cpu_ms for m in echo]), "ms/update", _spread([m.cpu_ms for m in echo])),
                ]
                for sync, measured in ours.items():
                    ratios = [m.rate / e.rate for m, e in zip(measured, echo)]
                    ratio = _median(ratios)
                    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
                    rows += [
                        Row("telegram", f"Ascolto full pipeline, {chats} connections, SQLite {sync}", _median([m.rate for m in measured]), "updates/s", f"{load}, {_spread([m.rate for m in measured])}"),
                        Row("telegram", f"Ascolto full pipeline, {chats} connections, SQLite {sync}, CPU", _median([m.cpu_ms for m in measured]), "ms/update", _spread([m.cpu_ms for m in measured])),
                        Row("telegram", f"ratio Ascolto {sync} / echo, {chats} connections", ratio, "×", f"{verdict} the target ≥ {TARGET_RATIO}; {_spread(ratios)}"),
                    ]
                full = ours["FULL"]
                rows += [
                    Row("telegram", f"Ascolto, {chats} connections, SQL statements", _median([m.statements for m in full]), "/update", f"BEGIN included; {_spread([m.statements for m in full])}"),
                    Row("telegram", f"Ascolto, {chats} connections, transactions", _median([m.transactions for m in full]), "/update", _spread([m.transactions for m in full])),
                    Row("telegram", f"Ascolto, {chats} connections, dispatcher claims", _median([m.claims for m in full]), "/update", _spread([m.claims for m in full])),
                ]
    return rows


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float]) -> str:
    return f"median of {len(values)} rounds, range {min(values):.2f}-{max(values):.2f}"


IsDone = Callable[[int], Awaitable[bool]]
"""Given how many updates were delivered so far, whether every reply to them has reached the fake."""
BotUnderTest = Callable[[FakeTelegram], contextlib.AbstractAsyncContextManager[IsDone]]
"""Starts a bot and points the fake's webhook at it."""


async def _measure(fake: FakeTelegram, bot: BotUnderTest, *, chats: int, first_chat: int) -> Measured:
    delivered = [0]
    script = MESSAGES * max(1, UPDATES // (chats * len(MESSAGES)))
    async with bot(fake) as is_done:
        await _drive(fake, range(first_chat - WARMUP_CHATS, first_chat), MESSAGES, is_done, delivered)
        started, cpu_started = time.perf_counter(), time.process_time()
        with _COUNTS.counting():
            await _drive(fake, range(first_chat, first_chat + chats), script, is_done, delivered)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    updates = chats * len(script)
    return Measured(
        rate=updates / elapsed,
        cpu_ms=1000 * cpu / updates,
        statements=_COUNTS.statements / updates,
        transactions=_COUNTS.transactions / updates,
        claims=_COUNTS.claims / updates,
    )


class _Counts:
    """Statements, commits and claims of the bot under test while an update is being measured."""

    def __init__(self) -> None:
        self.on = False
        self.statements = self.transactions = self.claims = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        self.statements = self.transactions = self.claims = 0
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def listen(self, core: Core) -> None:
        @event.listens_for(core.db.sync_engine, "before_cursor_execute")
        def _statement(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if self.on:
                self.statements += 1
                # Every claim opens with the pass over pending replies (`storage.outbox._chats`).
                self.claims += CLAIM_MARK in statement

        @event.listens_for(core.db.sync_engine, "begin")
        def _begin(*_: object) -> None:
            self.statements += self.on  # SQLite's BEGIN IMMEDIATE is the dialect's step, no cursor event (storage.db)

        @event.listens_for(core.db.sync_engine, "commit")
        def _commit(*_: object) -> None:
            self.transactions += self.on

        if self._on_lane not in plain.OBSERVERS:  # once a process: the lane is shared by every round's core
            plain.OBSERVERS.append(self._on_lane)

    def _on_lane(self, *_: object) -> None:
        """The plain lane's statements run on SQLite's cursor, where SQLAlchemy's event does not see them (storage/plain.py)."""
        self.statements += self.on

CLAIM_MARK: Final = f"INDEXED BY {outbox.PENDING_INDEXES[True][0]}"
_COUNTS: Final = _Counts()


async def _drive(
    fake: FakeTelegram, chats: range, script: tuple[str, ...], is_done: IsDone, delivered: list[int]
) -> None:
    async def one_chat(chat: int) -> None:
        for text in script:
            status = await fake.deliver_webhook(fake.push_message(chat, text))
            if status != 200:
                error = fake.webhook.last_error_message if fake.webhook is not None else None
                raise RuntimeError(f"webhook answered {status}: {error}")
            delivered[0] += 1

    await asyncio.wait_for(asyncio.gather(*(one_chat(c) for c in chats)), DEADLINE_SECONDS)
    deadline = time.perf_counter() + DEADLINE_SECONDS
    while not await is_done(delivered[0]):
        if time.perf_counter() > deadline:
            raise TimeoutError("replies still pending")
        await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def _echo_bot(fake: FakeTelegram) -> AsyncIterator[IsDone]:
    """The smallest webhook bot PTB's docs show: check the secret, process the update, answer 200."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    application = Application.builder().token(fake.token).base_url(fake.base_url).updater(None).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def receive(request: Request) -> Response:
        if request.headers.get(SECRET_HEADER) != SECRET:
            return Response(status_code=403)
        await application.process_update(Update.de_json(await request.json(), application.bot))
        return Response(status_code=200)

    before = len(fake.sent)

    async def is_done(delivered: int) -> bool:
        return len(fake.sent) - before >= delivered  # one reply an update

    async with application, serve_loopback(Starlette(routes=[Route("/echo", receive, methods=["POST"])])) as root:
        await application.bot.set_webhook(root + "/echo", secret_token=SECRET)
        yield is_done


def _ascolto(database: Path, synchronous: str = "FULL") -> BotUnderTest:
    @contextlib.asynccontextmanager
    async def running(fake: FakeTelegram) -> AsyncIterator[IsDone]:
        late = _LateApp()
        async with serve_loopback(late) as root:
            settings = Settings(
                database=DatabaseSettings(url=f"sqlite+aiosqlite:///{database}", sqlite_synchronous=synchronous),  # type: ignore[arg-type]
                telegram=TelegramSettings(
                    token=SecretStr(fake.token),
                    base_url=fake.base_url,
                    base_file_url=fake.base_file_url,
                    webhook_url=root + "/telegram",
                    webhook_secret=SecretStr(SECRET),
                    per_chat_per_second=1000,
                    overall_per_second=10000,  # flood limits off on both sides, as for the echo bot
                ),
                # A chat here writes 36 messages in a few seconds: under the default turn budget
                # (20 at once, then 30 a minute) most would be stored for later and not answered
                # while the clock runs. The echo bot has no such budget.
                limits=LimitsSettings(turns_per_minute=600, turn_burst=1000),
            )
            core = await build_core(settings)  # migrates: outside the measured time
            _COUNTS.listen(core)
            gc.freeze()  # as `ascolto run` does once its core is built (bot/cli/main.py)
            try:
                unlimited = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=0)
                channel = await build(core, rate_limiter=unlimited)
                assert channel.startup is not None and channel.shutdown is not None
                await channel.startup()
                dispatcher = core.dispatcher({channel.name: channel.sender})
                late.app = build_web_app(core, channel.routes)
                stop = asyncio.Event()
                sending = asyncio.create_task(dispatcher.run_forever(stop))
                try:
                    yield _drained_check(core, fake)
                finally:
                    stop.set()
                    await sending
                    await channel.shutdown()
            finally:
                await core.close()

    return running


def _drained_check(core: Core, fake: FakeTelegram) -> IsDone:
    """Every update gets at least one reply: until the fake has as many new messages as updates were
    delivered, the answer is no without asking the database. Then the database is asked at most every
    20 ms (polling it every 2 ms competed with the bot for SQLite)."""
    before = len(fake.sent)
    last = [0.0]

    async def is_done(delivered: int) -> bool:
        if len(fake.sent) - before < delivered or time.perf_counter() - last[0] < 0.02:
            return False
        last[0] = time.perf_counter()
        return await _outbox_drained(core)

    return is_done


async def _outbox_drained(core: Core) -> bool:
    counting, _COUNTS.on = _COUNTS.on, False  # the bench's own question is not the bot's work
    try:
        async with core.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.PENDING)
            )
    finally:
        _COUNTS.on = counting
    return pending == 0


class _LateApp:
    """The webhook URL needs the server's port before the app that serves it can be built."""

    app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)
