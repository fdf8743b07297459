"""Benchmark: how well Ascolto understands answers, on the corpus in tests/data/answers.tsv.

Registered in `bench/__main__.py` as ``answers``. For each kind of question (urgency, consent,
summary, comune confirmation, follow-up) it counts the answers understood right, those asked
again although they meant an option, and those taken wrongly — the one outcome we never accept
(`tests/conversations/test_understanding_corpus.py` fails on any). The baseline is the matcher
before issue 14 (exact words, a word inside the answer, typo tolerance; no negation, no yes/no
understanding) on today's options, whose aliases already include phrases like "non è urgente".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from dataclasses import dataclass

from pathlib import Path
from typing import Final

from rapidfuzz import fuzz

from bench import Row
from conversations._text import fold
from conversations.engine import FUZZY_CUTOFF, match_option
from conversations.flows import followup, intake
from conversations.messages import Option
from conversations.types import Context

CORPUS: Final = Path(__file__).resolve().parent.parent / "tests" / "data" / "answers.tsv"
RAVENNA: Final = {"istat": "039014", "name": "Ravenna", "province": "RA"}

ASK_AGAIN = "?"


@dataclass(frozen=True, slots=True)
class Example:
    kind: str
    answer: str
    meaning: str
    """An option's payload, or `ASK_AGAIN`."""


def read(lines: Iterable[str]) -> list[Example]:
    """Examples from tab-separated lines (`kind`, `answer`, `meaning`); `#` starts a comment."""
    found = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        kind, answer, meaning = line.rstrip("\n").split("\t")
        found.append(Example(kind, answer, meaning))
    return found


def questions(ctx: Context) -> dict[str, tuple[Option, ...]]:
    """The options of each kind of question, as the flows draw them."""
    return {
        "urgency": intake.URGENCY_OPTIONS,
        "consent": intake.CONSENT_OPTIONS,
        "summary": intake.CONFIRM_OPTIONS,
        "comune_confirm": intake._candidate_options({"comune_candidates": [RAVENNA]}, ctx),
        "followup": followup.STILL_NEEDED_OPTIONS,
    }


Matcher = Callable[[tuple[Option, ...], str], Option | None]


def current(options: tuple[Option, ...], text: str) -> Option | None:
    return match_option(options, choice=None, text=text)


def before(options: tuple[Option, ...], text: str) -> Option | None:
    """The matcher as it was before negation and yes/no understanding, for the baseline row."""
    folded = fold(text)
    if not folded:
        return None
    if folded.isascii() and folded.isdigit():
        index = int(folded) - 1 if len(folded) < 4 else -1
        return options[index] if 0 <= index < len(options) else None
    keyed = [(o, {fold(k) for k in (o.payload, *o.aliases, *((o.label,) if isinstance(o.label, str) else ())) if fold(k)}) for o in options]
    exact = [o for o, keys in keyed if folded in keys]
    if len(exact) == 1:
        return exact[0]
    words = f" {folded} "
    best: dict[int, list[Option]] = {}
    for option, keys in keyed:
        inside = [len(k) for k in keys if len(k) > 1 and f" {k} " in words]
        if inside:
            best.setdefault(max(inside), []).append(option)
    if best:
        longest = best[max(best)]
        return longest[0] if len(longest) == 1 else None
    scored = sorted(((max(fuzz.ratio(folded, k) for k in keys), o) for o, keys in keyed if keys), key=lambda s: -s[0])
    scored = [s for s in scored if s[0] >= FUZZY_CUTOFF]
    if len(scored) == 1 or (len(scored) > 1 and scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


def outcome(example: Example, options: tuple[Option, ...], matcher: Matcher = current) -> str:
    """``right``, ``asked`` (asked again when it meant an option) or ``wrong``."""
    picked = matcher(options, example.answer)
    if picked is None:
        return "right" if example.meaning == ASK_AGAIN else "asked"
    return "right" if picked.payload == example.meaning else "wrong"


def score(
    examples: Iterable[Example], questions: Mapping[str, tuple[Option, ...]], matcher: Matcher = current
) -> dict[str, Counter[str]]:
    """Per kind of question, how many answers were right, asked again and wrong."""
    tally: dict[str, Counter[str]] = {}
    for example in examples:
        tally.setdefault(example.kind, Counter())[outcome(example, questions[example.kind], matcher)] += 1
    return tally


async def run() -> list[Row]:
    from storage.comuni import load_gazetteer  # the comune question needs the real list

    ctx = Context(now=datetime.now(UTC), gazetteer=load_gazetteer(), categories=())
    examples = read(CORPUS.read_text(encoding="utf-8").splitlines())
    rows = []
    for label, matcher in (("before issue 14", before), ("now", current)):
        for kind, tally in sorted(score(examples, questions(ctx), matcher).items()):
            total = sum(tally.values())
            rows.append(
                Row(
                    "answers",
                    f"{kind}, {label}: right",
                    100 * tally["right"] / total,
                    "%",
                    f"{tally['right']} right, {tally['asked']} asked again, {tally['wrong']} wrong of {total}",
                )
            )
    return rows
