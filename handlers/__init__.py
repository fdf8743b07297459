"""Channel adapters: they translate provider events in and replies out, nothing more."""

from __future__ import annotations

from handlers.console import ConsoleSender, render_numbered
from handlers.errors import Held, Rejected, SendError, Throttled, Transient, Unreachable, Unsubscribed
from handlers.render import split_text, text_limit
from handlers.types import Accepted, InboundSink, Outgoing, Sender

__all__ = [
    "Accepted",
    "ConsoleSender",
    "Held",
    "InboundSink",
    "Outgoing",
    "Rejected",
    "SendError",
    "Sender",
    "Throttled",
    "Transient",
    "Unreachable",
    "Unsubscribed",
    "render_numbered",
    "split_text",
    "text_limit",
]
