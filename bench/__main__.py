"""`python -m bench [NAME ...]`: runs the registered benchmarks (all by default) and prints one table."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from bench import Row, format_table
from bench import answers, comuni, digest, edge, flood, load, public, telegram, turns, understanding, voice, whatsapp

BENCHMARKS: dict[str, Callable[[], Coroutine[Any, Any, list[Row]]]] = {
    "telegram": telegram.run,
    "whatsapp": whatsapp.run,
    "turns": turns.run,
    "digest": digest.run,
    "load": load.run,
    "comuni": comuni.run,
    "answers": answers.run,
    "flood": flood.run,
    "understanding": understanding.run,
    "edge": edge.run,
    "voice": voice.run,
    "public": public.run,
}
"""Name -> benchmark; later issues add theirs here, and their rows join the same table."""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # as bot/cli/main.py does
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    rows: list[Row] = []
    started = time.perf_counter()
    for name in args.names or BENCHMARKS:
        print(f"running {name} …", file=sys.stderr, flush=True)
        rows += asyncio.run(BENCHMARKS[name]())
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s; {machine()}")
    return 0


def machine() -> str:
    """What the figures were measured on: date, CPUs and their model, and how busy the machine was."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    load = " / ".join(f"{n:.1f}" for n in os.getloadavg())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, {os.cpu_count()} CPUs ({model}), load average {load} at the end"


if __name__ == "__main__":
    sys.exit(main())
