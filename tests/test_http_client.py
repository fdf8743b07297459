"""The HTTP client under PTB and the Bot API fake: nothing on its hot path searches the disk."""

from __future__ import annotations

from importlib.machinery import PathFinder
from typing import Any

import httpcore
import pytest


async def test_asking_which_event_loop_runs_does_not_search_the_disk_for_a_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpcore asks sniffio on every pool operation; without sniffio installed each call retried a
    failing import, stat calls included (7 % of the main thread in bench telegram, issue 18)."""
    searched: list[str] = []
    find_spec: Any = PathFinder.find_spec

    def tracing(name: str, path: Any = None, target: Any = None) -> Any:
        searched.append(name)
        return find_spec(name, path, target)

    monkeypatch.setattr(PathFinder, "find_spec", tracing)
    for _ in range(3):
        assert httpcore._synchronization.current_async_library() == "asyncio"
    assert searched == []
