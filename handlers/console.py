"""The terminal channel: the same pipeline as Telegram and WhatsApp, one line a message."""

from __future__ import annotations

from typing import Final, TextIO

from conversations import Channel
from handlers.types import Outgoing

CHANNEL: Final[str] = Channel.CONSOLE


def render_numbered(text: str, options: tuple[tuple[str, str], ...], hint: str) -> str:
    """Options as a numbered list, the way a text-only channel can show them."""
    if not options:
        return text
    lines = [text, ""]
    lines += [f"{i}. {label}" for i, (_, label) in enumerate(options, start=1)]
    if hint:
        lines += ["", hint]
    return "\n".join(lines)


class ConsoleSender:
    """Prints replies; `prefix` marks the bot's lines so a script can tell them apart."""

    channel = CHANNEL

    def __init__(self, out: TextIO, *, prefix: str = "") -> None:
        self.out = out
        self.prefix = prefix
        self.count = 0

    async def send(self, message: Outgoing) -> str | None:
        body = render_numbered(message.text, message.options, message.number_hint)
        if self.prefix:
            body = "\n".join(self.prefix + line for line in body.splitlines())
        self.out.write(body + "\n\n")
        self.out.flush()
        self.count += 1
        return f"console-{message.outbox_id}"
