"""Benchmark: the comune lookup that runs on every "where do you live?" answer.

Registered in `bench/__main__.py` as ``comuni``. The lookup tolerates case, accents, CAPs and
small typos over ~7,900 comuni, so it does far more than a dictionary get; the baseline is that
dictionary get (folded exact name -> comune) over the same texts, in the same run. The figure to
watch is the median lookup time (target: under 5 ms, so it never shows in a turn's latency).
This used to be a timed unit test; timings belong here, where a loaded CI machine can't fail them.
"""

from __future__ import annotations

import statistics
import time
import unicodedata
from collections.abc import Callable
from typing import Final

from bench import Row
from storage.comuni import load_gazetteer

TEXTS: Final = (
    "Ravenna", "Ravena", "reggio emilia", "castro (le)", "48121 ravenna", "10010", "xyzzy", "ciao",
    "buongiorno, abito a Bologna", "castel san pietro", "torimo", "x" * 100,
)  # fmt: skip
ROUNDS: Final = 50
TARGET_US: Final = 5_000.0


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _median_us(call: Callable[[str], object], texts: tuple[str, ...]) -> float:
    for text in texts:  # warm up caches
        call(text)
    timings = []
    for _ in range(ROUNDS):
        for text in texts:
            start = time.perf_counter()
            call(text)
            timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1_000_000


async def run() -> list[Row]:
    gazetteer = load_gazetteer()
    by_name = {_fold(comune.name): comune for comune in gazetteer}
    baseline = _median_us(lambda text: by_name.get(_fold(text)), TEXTS)
    lookup = _median_us(gazetteer.lookup, TEXTS)
    verdict = "meets" if lookup < TARGET_US else "misses"
    return [
        Row("comuni", "baseline: folded exact-name dict get", baseline, "µs", f"median of {ROUNDS * len(TEXTS)}"),
        Row("comuni", "Gazetteer.lookup (CAP, typos, ambiguity)", lookup, "µs", f"{verdict} the target < {TARGET_US:,.0f} µs"),
        Row("comuni", "ratio lookup / baseline", lookup / baseline, "x", "how much the tolerance costs"),
    ]
