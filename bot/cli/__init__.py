"""The `ascolto` command line (`bot/cli/main.py`); `main` is the console script and `python -m bot`."""

from __future__ import annotations

from bot.cli.main import main

__all__ = ["main"]
