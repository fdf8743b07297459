"""`ascolto chat`: the conversation in a terminal, interactive or driven through a pipe, as one person."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Final, TextIO

from bot.core import Core
from bot.dispatcher import Dispatcher
from conversations import Inbound, Msg
from handlers import ConsoleSender
from handlers.console import CHANNEL

SETTLE_SECONDS: Final = 30.0
"""How long a turn's work after the commit (an on-demand digest) may take before the console moves on.
Within a session it goes on meanwhile; at the end of input the console says it was cut short and leaves."""


class Lines:
    """The lines of `stdin`, read by a daemon thread: Ctrl+C leaves at once instead of waiting for Enter
    (a thread of `asyncio.to_thread` blocked in `readline` kept `asyncio.run` from ending)."""

    def __init__(self, stdin: TextIO) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump() -> None:
            while True:
                line = stdin.readline()
                loop.call_soon_threadsafe(self._queue.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()

    async def next(self) -> str:
        """The next line with its end of line; "" at the end of input."""
        return await self._queue.get()


async def chat(core: Core, *, name: str, stdin: TextIO, stdout: TextIO, interactive: bool, stderr: TextIO | None = None) -> int:
    """Answer each line as it arrives; at end of input, wait for what the turns started and return.

    The console is one person, `name`: it shows only their messages. Messages for anyone else
    (an operator's alert when a citizen sends a need) wait in the outbox for that person's own
    session, and come first when it starts (`ascolto chat --as lucia`). Every line is one inbound
    with an id unique to this run, so the same pipeline and outbox serve the console exactly as
    they serve Telegram.
    """
    dispatcher = core.dispatcher({CHANNEL: ConsoleSender(stdout)}, recipient=name)
    say = _Say(core)
    async with core.sessions() as session:
        if not await core.notifier.has_admins(session) and stderr is not None:
            stderr.write(say("console.no_admins"))  # once, here, instead of a log line at every need
    if interactive:
        stdout.write(say("console.banner", name=name))
    await dispatcher.flush()  # what waited for this person (or a crash left) goes out first
    lines, run, count = Lines(stdin), uuid.uuid4().hex[:12], 0
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await lines.next()
        if not line:
            break
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        count += 1
        inbound = Inbound(channel=CHANNEL, external_id=f"{run}-{count}", sender=name, received_at=core.clock(), text=text)
        await core.pipeline.handle(inbound)
        await settle(core, dispatcher)
    if not await settle(core, dispatcher) and stderr is not None:
        stderr.write(say("console.still_running", seconds=int(SETTLE_SECONDS)))
    return 0


class _Say:
    """The console's own lines, in the configured language, one line each."""

    def __init__(self, core: Core) -> None:
        self.translator, self.language = core.translator, core.settings.app.language

    def __call__(self, msgid: str, **params: object) -> str:
        return self.translator.format(Msg(msgid, params), self.language) + "\n"


async def settle(core: Core, dispatcher: Dispatcher, timeout: float = SETTLE_SECONDS) -> bool:
    """Wait (at most `timeout`) for the work the turn started after its commit, then show what is due.

    An admin's ``/digest_ora`` writes the digest after the turn: without this wait, a piped
    console reached the end of its input and closed the database first, and the digest was lost.
    """
    done = await core.background.drain(timeout)
    await dispatcher.flush()
    return done
