"""Seeded randomness so ticket codes and ids are the same on every run."""

from __future__ import annotations

import random
from collections.abc import Callable


def seeded(seed: int = 7) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


def scripted(*chunks: bytes, then: Callable[[int], bytes] | None = None) -> Callable[[int], bytes]:
    """Return these byte strings first (to force a ticket collision), then seeded bytes."""
    queue = list(chunks)
    rest = then or seeded()

    def draw(n: int) -> bytes:
        if queue:
            chunk = queue.pop(0)
            return (chunk * n)[:n]
        return rest(n)

    return draw
