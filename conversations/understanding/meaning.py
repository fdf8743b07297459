"""Options matched by meaning: the lemmas of an answer against the lemmas of each option's words.

"mia mamma si sente sola, avrebbe bisogno di compagnia" shares the lemmas *solo* and *compagnia*
with the option *Solitudine e compagnia* (its label, and the synonyms admins keep with the
category), and no lemma with the others: that option is meant. Lemmas come from `simplemma`
(a real Italian lemmatiser, its dictionaries shipped inside the wheel: nothing is downloaded);
a misspelt word still counts when it is within a small edit of an option's word
("compagnai" → *compagnia*). Two options sharing the best score is no match: the engine asks
again rather than guessing.

Pure: the dictionaries are read once, on first use, from the installed package (`warm` does it
at start-up so no citizen's turn pays for it); the same text always gives the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final, TypeAlias

import simplemma
from rapidfuzz import fuzz

from conversations._text import fold
from conversations.messages import Option

LANGUAGES: Final = ("it", "en")
"""Tried in this order for each word: Italian first, then English (category names have both)."""

TYPO_CUTOFF: Final = 85
"""rapidfuzz ratio (0-100) above which a misspelt word counts as an option's word."""

MIN_TYPO_CHARS: Final = 5
"""Shorter words must be spelt right: "sole" and "sola" are different words."""

_WORD: Final = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

STOP: Final = frozenset(
    fold(w)
    for w in """
    a ad al allo alla ai agli alle da dal dallo dalla dai dagli dalle di del dello della dei degli delle
    in nel nello nella nei negli nelle su sul sullo sulla sui sugli sulle con col per tra fra
    il lo la i gli le un uno una l un' e ed o od ma anche se che chi cui non ne ci vi si mi ti
    io tu lui lei noi voi loro mio tuo suo nostro vostro me te sé questo quello quale come dove quando
    essere avere stare fare potere volere dovere andare venire dire sapere
    molto poco più meno tanto tutto ogni qualche qualcuno qualcosa niente nulla
    bene male prima dopo ora già ancora sempre mai oggi ieri domani
    altro cosa tipo bisogno aiuto aiutare grazie ciao buongiorno buonasera salve per favore
    the of and or to for in on at with my i me need help please
    """.split()
)
"""Words that carry no topic of their own (articles, pronouns, auxiliaries, "aiuto", "altro"…)."""


Word: TypeAlias = tuple[str, str]
"""A word as (lemma, folded surface form): "isolati" → ("isolato", "isolati")."""

Phrase: TypeAlias = tuple[Word, ...]


@lru_cache(maxsize=65_536)
def lemma(word: str) -> str:
    """A word's lemma, folded: "anziane" → "anziano", "disabilità" → "disabilita"."""
    return fold(simplemma.lemmatize(word.casefold(), lang=LANGUAGES))


def words(text: str) -> Phrase:
    """The words that carry meaning, each with its lemma, in order (stop words dropped)."""
    found = []
    for raw in _WORD.findall(text):
        surface = fold(raw)
        if surface in STOP:
            continue
        lem = lemma(raw)
        if lem and lem not in STOP:
            found.append((lem, surface))
    return tuple(found)


def lemmas(text: str, language: str = "it") -> tuple[str, ...]:
    """The lemmas of the words that carry meaning, in order: "si sente sola" → ("sentire", "solo").

    `language` is the citizen's; Italian and English are always tried (an English answer to an
    Italian question is common), the citizen's language first.
    """
    del language  # both catalogs' languages are tried for every word; kept for a third catalog
    return tuple(lem for lem, _ in words(text))


def vocabulary(label: str | None, names: Iterable[str]) -> tuple[Phrase, ...]:
    """What an option means: one phrase per name, and each word of its label alone.

    A name of several words (an alias, a synonym: "sedia a rotelle") counts only when all its
    words are there; the label's words count one by one ("Solitudine e compagnia" is met by
    "compagnia" alone), stop words aside.
    """
    out: dict[Phrase, None] = {}
    if label:
        for word in words(label):
            out[(word,)] = None
    for name in (label or "", *names):
        phrase = words(name)
        if phrase:
            out[phrase] = None
    return tuple(out)


def same(a: Word, b: Word) -> bool:
    """One word and another: the same lemma or form ("isolato"/"isolati"), or a small misspelling of it."""
    if a[0] in b or a[1] in b:
        return True
    if min(len(a[1]), len(b[1])) < MIN_TYPO_CHARS:
        return False
    return fuzz.ratio(a[0], b[0]) >= TYPO_CUTOFF or fuzz.ratio(a[1], b[1]) >= TYPO_CUTOFF


def score(said: Phrase, meaning: Sequence[Phrase]) -> int:
    """How many of the answer's words an option's phrases cover (each word counted once).

    A phrase counts when every one of its words is in the answer.
    """
    covered: set[int] = set()
    for phrase in meaning:
        hits = [next((i for i, w in enumerate(said) if same(p, w)), None) for p in phrase]
        if all(h is not None for h in hits):
            covered.update(h for h in hits if h is not None)
    return len(covered)


def by_meaning(options: Sequence[Option], text: str) -> Option | None:
    """The one option whose words the answer shares most by lemma, or None (nothing shared, or a tie)."""
    said = words(text)
    if not said:
        return None
    scored = sorted(((score(said, _meaning(o)), n) for n, o in enumerate(options)), reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return options[scored[0][1]]


MAX_SYNONYMS_CHARS: Final = 2000
"""What a category's synonyms may hold, all together (the column's size)."""

_SEPARATORS: Final = re.compile(r"[,;\n]+")


def split_synonyms(text: str) -> tuple[str, ...]:
    """"sola, compagnia;  nessuno con cui parlare" → ("sola", "compagnia", "nessuno con cui parlare"), each once."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text):
        word = " ".join(part.split())
        if word and fold(word) not in {fold(w) for w in seen}:
            seen[word] = None
    return tuple(seen)


def names_any(options: Sequence[Option], text: str) -> bool:
    """The answer shares a word (by lemma) with some option's label or synonyms."""
    said = words(text)
    return bool(said) and any(score(said, _meaning(o)) > 0 for o in options)


def warm() -> None:
    """Read the dictionaries now (about half a second), not on the first citizen's answer."""
    lemmas("anziani soli", "it")
    lemmas("older people", "en")


def _meaning(option: Option) -> tuple[Phrase, ...]:
    return _vocabulary_of(option.label if isinstance(option.label, str) else None, option.aliases)


@lru_cache(maxsize=4096)
def _vocabulary_of(label: str | None, names: tuple[str, ...]) -> tuple[Phrase, ...]:
    return vocabulary(label, names)
