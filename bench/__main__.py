"""`python -m bench [NAME ...]`: runs the registered benchmarks (all by default) and prints one table."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bench import Row, format_table
from bench import comuni, digest, load, telegram

BENCHMARKS: dict[str, Callable[[], Coroutine[Any, Any, list[Row]]]] = {
    "telegram": telegram.run,
    "digest": digest.run,
    "load": load.run,
    "comuni": comuni.run,
}
"""Name -> benchmark; later issues add theirs here, and their rows join the same table."""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # as bot/cli.py does
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
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
