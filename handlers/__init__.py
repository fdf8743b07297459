"""Channel adapters: they translate provider events in and replies out, nothing more."""

from __future__ import annotations

from handlers.console import ConsoleSender, render_numbered
from handlers.errors import Rejected, SendError, Throttled, Transient, Unreachable
from handlers.render import split_text, text_limit
from handlers.types import InboundSink, Outgoing, Sender

__all__ = [
    "ConsoleSender",
    "InboundSink",
    "Outgoing",
    "Rejected",
    "SendError",
    "Sender",
    "Throttled",
    "Transient",
    "Unreachable",
    "render_numbered",
    "split_text",
    "text_limit",
]
