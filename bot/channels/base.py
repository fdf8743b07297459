"""What a channel brings to the running app: shared by the channel builders and `serve`, importing neither."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from handlers import Sender

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A background loop that runs until the stop event is set (e.g. Telegram long polling)."""


@dataclass(slots=True)
class Channel:
    """One running channel, built by `bot/channels/<channel>.py`: its sender, web routes, loops and hooks."""

    name: str
    sender: Sender
    routes: list[BaseRoute] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    startup: Callable[[], Awaitable[None]] | None = None
    shutdown: Callable[[], Awaitable[None]] | None = None
    fetch_audio: Callable[[str, str | None, Path], Awaitable[Path]] | None = None
    """Downloads a voice note to transcribe (`bot/voice.py`): reference, content type, folder → the file."""
