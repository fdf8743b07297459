"""`ascolto chat`: the conversation in a terminal, interactive or driven through a pipe."""

from __future__ import annotations

import asyncio
import uuid
from typing import TextIO

from bot.core import Core
from conversations import Inbound
from handlers import ConsoleSender
from handlers.console import CHANNEL

BANNER = "Ascolto — console. Scrivi un messaggio e premi Invio (Ctrl+D per uscire).\n"


async def chat(core: Core, *, name: str, stdin: TextIO, stdout: TextIO, interactive: bool) -> int:
    """Answer each line as it arrives; at end of input, flush the outbox and return.

    Every line is one inbound with an id unique to this run, so the same
    pipeline and outbox serve the console exactly as they serve Telegram.
    """
    sender = ConsoleSender(stdout)
    dispatcher = core.dispatcher({CHANNEL: sender})
    await dispatcher.flush()  # replies a crash left in the outbox go out first
    run = uuid.uuid4().hex[:12]
    if interactive:
        stdout.write(BANNER)
    count = 0
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        count += 1
        await core.pipeline.handle(
            Inbound(
                channel=CHANNEL,
                external_id=f"{run}-{count}",
                sender=name,
                received_at=core.clock(),
                text=text,
            )
        )
        await dispatcher.flush()
    await dispatcher.flush()
    return 0
