"""Starts the configured remote channels (Telegram, WhatsApp) next to the dispatcher."""

from __future__ import annotations

import logging
import sys

from bot.app import Core

logger = logging.getLogger(__name__)


async def serve(core: Core) -> int:
    # The Telegram adapter lands with issue #4; until then a token is a configuration
    # this build cannot honour, and saying so beats silently opening the console.
    print("ascolto: the Telegram channel is not part of this build yet; unset ASCOLTO_TELEGRAM__TOKEN", file=sys.stderr)
    return 2
