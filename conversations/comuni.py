"""The gazetteer of Italian comuni: resolves what a citizen typed (name, typo, CAP, province) to ISTAT comuni."""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 100
"""Longer texts are not a comune name: they get no candidates."""

FUZZY_CUTOFF = 0.78
"""Minimum fuzzy similarity (0-1): `OSA.normalized_similarity`, i.e. 1 - edits / length of the longer string.

An edit is an insertion, deletion, substitution or swap of two neighbouring letters, so this allows
one slip in five letters (0.80; the cutoff sits a little lower so float rounding cannot drop it):
"ravena" (0.86) finds Ravenna, "torimo" (0.83) Torino, "luca" (0.80) Lucca, while four-letter words
stay alone ("ciao" vs Cino is 0.75). On 1,500 comuni with one random slip each, 97% find the comune
among the first six; 0.84 drops that to 84%, and 0.75 lets in almost twice as many everyday words.
"""

MIN_FUZZY_QUERY_LENGTH = 3
"""Queries shorter than this ("si", "no", "ok") are never matched fuzzily."""

HEAD_SCORE = 0.88
"""Score of a comune whose exact name opens the text and is followed by other words ("bologna centro")."""

MIN_HEAD_LENGTH = 4
"""A name opening the text counts only if it is at least this long ("ne", "re", "ora" are words too)."""

COMPLETION_SCORE = 0.82
"""Score of a longer name whose first words are exactly the text ("san dona" -> San Donà di Piave)."""

MAX_COMPLETIONS = 8
"""Text that begins more names than this ("san", "castel") is too vague to complete."""

_FUZZY_POOL = 24
"""How many fuzzy matches to ask rapidfuzz for before merging, filtering and truncating."""

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Word sequences dropped from the start of the text, longest first; kept small and explicit.
_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("il", "comune", "di"),
    ("comune", "di"),
    ("vivo", "a"),
    ("vivo", "in"),
    ("abito", "a"),
    ("abito", "in"),
    ("sto", "a"),
    ("sono", "di"),
    ("sono", "a"),
    ("a",),
    ("in",),
    ("di",),
    ("da",),
)

# Words after which a sentence usually names a place ("buongiorno, abito a Ravenna").
_PLACE_MARKERS = frozenset({"a", "ad", "in", "di", "da"})

# Words between a comune and its province ("Castro provincia di Lecce", "Busseto prov. PR").
_PROVINCE_FILLERS = frozenset({"provincia", "prov", "pr", "di", "in", "della", "del"})

# Function words dropped from names for a second fuzzy form ("Reggio nell'Emilia" ~ "reggio emilia").
_NAME_STOPWORDS = frozenset(
    {
        "d", "di", "del", "dell", "della", "dello", "dei", "degli", "delle",
        "nel", "nell", "nella", "nello", "nei", "negli", "nelle",
        "al", "all", "alla", "allo", "ai", "agli", "alle",
        "sul", "sull", "sulla", "sullo", "sui", "sugli", "sulle",
        "in", "e", "ed", "l", "la", "lo", "il", "i", "gli", "le",
    }
)

# Everyday names of provinces that the ISTAT denomination does not contain.
_PROVINCE_ALIASES: dict[str, str] = {
    "aosta": "AO",
    "verbania": "VB",
    "reggio emilia": "RE",
    "monza brianza": "MB",
}


@dataclass(frozen=True, slots=True)
class Comune:
    """One Italian municipality as listed by ISTAT."""

    istat_code: str
    name: str
    province_code: str
    province_name: str
    region: str
    caps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ComuneLookup:
    """The comuni a text may name, best first; `is_exact` when it named exactly one without doubt."""

    candidates: tuple[Comune, ...]
    is_exact: bool


_NO_MATCH = ComuneLookup(candidates=(), is_exact=False)


@dataclass(frozen=True, slots=True)
class _Hits:
    comuni: tuple[Comune, ...]
    exact: bool


def _normalize(text: str) -> str:
    """Fold accents and case, turn punctuation into spaces and collapse whitespace."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(_NON_ALNUM.sub(" ", folded).split())


def _fold_keeping_accents(text: str) -> str:
    """Case-fold but keep accents, to tell "Paternò" from "Paterno"."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _strip_prefixes(words: list[str]) -> list[str]:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            size = len(prefix)
            if len(words) > size and tuple(words[:size]) == prefix:
                words = words[size:]
                changed = True
                break
    return words


def _strip_stopwords(name_key: str) -> str:
    return " ".join(word for word in name_key.split() if word not in _NAME_STOPWORDS)


def _sort_key(comune: Comune) -> tuple[str, str, str]:
    return (_normalize(comune.name), comune.province_code, comune.istat_code)


class Gazetteer:
    """Indexes of the comuni by ISTAT code, name, CAP and province, plus a fuzzy matcher over the names."""

    __slots__ = (
        "_by_cap",
        "_by_code",
        "_by_compact",
        "_by_generic_cap",
        "_by_name",
        "_choice_keys",
        "_choice_lengths",
        "_choices",
        "_completions",
        "_comuni",
        "_provinces",
    )

    def __init__(self, comuni: Iterable[Comune]) -> None:
        by_code: dict[str, Comune] = {}
        for comune in comuni:
            if comune.istat_code in by_code:
                logger.warning("duplicate ISTAT code %s (%s), keeping the first", comune.istat_code, comune.name)
                continue
            by_code[comune.istat_code] = comune
        self._by_code = by_code
        self._comuni: tuple[Comune, ...] = tuple(sorted(by_code.values(), key=_sort_key))

        by_name: dict[str, list[Comune]] = {}
        by_compact: dict[str, list[Comune]] = {}
        by_cap: dict[str, list[Comune]] = {}
        by_generic_cap: dict[str, list[Comune]] = {}
        provinces: dict[str, str] = dict(_PROVINCE_ALIASES)
        for comune in self._comuni:
            key = _normalize(comune.name)
            if not key:
                continue
            by_name.setdefault(key, []).append(comune)
            by_compact.setdefault(key.replace(" ", ""), []).append(comune)
            for cap in comune.caps:
                by_cap.setdefault(cap, []).append(comune)
            if len(comune.caps) > 1:
                # Cities with one CAP per district had a single "..100" CAP until 2007 (48100 Ravenna).
                for prefix in {cap[:3] for cap in comune.caps}:
                    by_generic_cap.setdefault(prefix, []).append(comune)
            self._index_province(provinces, comune)
        self._by_name = {key: tuple(value) for key, value in by_name.items()}
        self._by_compact = {key: tuple(value) for key, value in by_compact.items()}
        self._by_cap = {key: tuple(value) for key, value in by_cap.items()}
        self._by_generic_cap = {key: tuple(value) for key, value in by_generic_cap.items()}
        self._provinces = provinces

        completions: dict[str, list[str]] = {}
        for key in self._by_name:
            words = key.split()
            for size in range(1, len(words)):
                completions.setdefault(" ".join(words[:size]), []).append(key)
        self._completions = {
            head: tuple(keys) for head, keys in completions.items() if len(keys) <= MAX_COMPLETIONS
        }

        # Sorted by length: a name can only be similar enough to a text of about its own length.
        pairs = sorted(zip(*self._fuzzy_choices(self._by_name)), key=lambda pair: (len(pair[0]), pair[0]))
        self._choices = [choice for choice, _key in pairs]
        self._choice_keys = [key for _choice, key in pairs]
        self._choice_lengths = [len(choice) for choice in self._choices]
        logger.debug("gazetteer built: %s comuni, %s names, %s CAPs", len(self._comuni), len(by_name), len(by_cap))

    @staticmethod
    def _index_province(provinces: dict[str, str], comune: Comune) -> None:
        code = comune.province_code.upper()
        if len(code) != 2 or not code.isalpha():
            return
        provinces.setdefault(code.lower(), code)
        name = comune.province_name
        for form in {name, *re.split(r"[/-]| e ", name)}:
            key = _normalize(form)
            if key:
                provinces.setdefault(key, code)
                stripped = _strip_stopwords(key)
                if stripped:
                    provinces.setdefault(stripped, code)

    @staticmethod
    def _fuzzy_choices(keys: Iterable[str]) -> tuple[list[str], list[str]]:
        """Each normalized name, plus its form without function words, and the name each choice stands for."""
        choices: list[str] = []
        choice_keys: list[str] = []
        for key in keys:
            choices.append(key)
            choice_keys.append(key)
            stripped = _strip_stopwords(key)
            if stripped and stripped != key:
                choices.append(stripped)
                choice_keys.append(key)
        return choices, choice_keys

    def __len__(self) -> int:
        return len(self._comuni)

    def __iter__(self) -> Iterator[Comune]:
        return iter(self._comuni)

    def get(self, istat_code: str) -> Comune | None:
        """The comune with this ISTAT code ("039014"), if any."""
        return self._by_code.get(istat_code.strip())

    def lookup(self, text: str, *, limit: int = 6) -> ComuneLookup:
        """The comuni `text` may name, best first and at most `limit`; never raises."""
        if limit <= 0 or not text or len(text) > MAX_TEXT_LENGTH:
            return _NO_MATCH
        tokens = _normalize(text).split()
        caps = [token for token in tokens if len(token) == 5 and token.isdigit()]
        words = _strip_prefixes([token for token in tokens if not token.isdigit()])
        accented = _fold_keeping_accents(text)

        hits: _Hits | None = None
        if caps:
            hits = self._match_caps(caps, words, accented)
        if hits is None and words:
            hits = self._match_words(words, accented, within=None)
        if hits is None or not hits.comuni:
            return _NO_MATCH
        return ComuneLookup(candidates=hits.comuni[:limit], is_exact=hits.exact and len(hits.comuni) == 1)

    # -- CAPs -------------------------------------------------------------------------------------

    def _match_caps(self, caps: Sequence[str], words: list[str], accented: str) -> _Hits | None:
        found: dict[str, Comune] = {}
        for cap in caps:
            for comune in self._by_cap.get(cap, ()):
                found.setdefault(comune.istat_code, comune)
        generic = False
        if not found:
            for cap in caps:
                if cap.endswith("00"):
                    for comune in self._by_generic_cap.get(cap[:3], ()):
                        found.setdefault(comune.istat_code, comune)
            generic = bool(found)
        if not found:
            return None  # an unknown CAP says nothing: fall back to the words
        by_cap = tuple(sorted(found.values(), key=_sort_key))
        if not words:
            return _Hits(by_cap, exact=not generic)
        named = self._match_words(words, accented, within=frozenset(found))
        if named is not None and named.exact:
            return _Hits(named.comuni, exact=not generic)
        text = f" {' '.join(words)} "
        mentioned = tuple(comune for comune in by_cap if f" {_normalize(comune.name)} " in text)
        if mentioned:  # an address: "via Roma 12, 47121 Forlì"
            return _Hits(mentioned, exact=not generic and len(mentioned) == 1)
        if named is not None and named.comuni:
            # A misspelt name picks among the comuni of the CAP; a CAP of one comune confirms it.
            return _Hits(named.comuni, exact=not generic and len(by_cap) == 1)
        elsewhere = self._match_words(words, accented, within=None)
        others = elsewhere.comuni if elsewhere is not None else ()
        if not others:  # the other words name no comune: the CAP alone decides
            return _Hits(by_cap, exact=not generic)
        # The words name another comune than the CAP: offer both, the name first.
        merged = {comune.istat_code: comune for comune in (*others, *by_cap)}
        return _Hits(tuple(merged.values()), exact=False)

    # -- names ------------------------------------------------------------------------------------

    def _match_words(self, words: list[str], accented: str, *, within: frozenset[str] | None) -> _Hits | None:
        exact = self._match_exact(words, accented, within)
        if exact is not None:
            return exact
        for index, word in enumerate(words[:-1]):
            if word in _PLACE_MARKERS:
                found = self._match_exact(words[index + 1 :], accented, within)
                if found is not None:
                    return _Hits(found.comuni, exact=False)  # picked out of a sentence: ask to confirm
        return self._match_fuzzy(words, within)

    def _match_exact(self, words: list[str], accented: str, within: frozenset[str] | None) -> _Hits | None:
        found = self._named(words, within)
        if found:
            found = self._prefer_accented(found, accented)
            return _Hits(found, exact=len(found) == 1)
        split = self._split_province(words)
        if split is None:
            return None
        name_words, province = split
        found = self._named(name_words, within)
        if not found:
            return None
        found = self._prefer_accented(found, accented)
        in_province = tuple(comune for comune in found if comune.province_code == province)
        if in_province:
            return _Hits(in_province, exact=len(in_province) == 1)
        return _Hits(found, exact=False)  # the province contradicts the name

    def _named(self, words: Sequence[str], within: frozenset[str] | None) -> tuple[Comune, ...]:
        """The comuni called exactly `words`, or written without spaces and apostrophes ("sandonadipiave").

        A spelling without spaces may also be how a longer name starts: "santarcangelo" is
        Sant'Arcangelo (PZ) but also Santarcangelo di Romagna, so both are returned.
        """
        key = " ".join(words)
        found = self._by_name.get(key, ())
        if not found:
            found = self._by_compact.get(key.replace(" ", ""), ())
            if found:
                longer = (comune for head in self._completions.get(key, ()) for comune in self._by_name[head])
                found = tuple({comune.istat_code: comune for comune in (*found, *longer)}.values())
        if within is not None:
            found = tuple(comune for comune in found if comune.istat_code in within)
        return found

    @staticmethod
    def _prefer_accented(found: tuple[Comune, ...], accented: str) -> tuple[Comune, ...]:
        """Among names equal once accents are folded, keep those whose accented spelling was typed."""
        if len(found) < 2:
            return found
        typed = tuple(
            comune for comune in found if not comune.name.isascii() and comune.name.casefold() in accented
        )
        return typed or found

    def _split_province(self, words: list[str]) -> tuple[list[str], str] | None:
        """Split "castro le" / "castro provincia di lecce" into the name words and the province code."""
        for size in range(min(4, len(words) - 1), 0, -1):
            province = self._provinces.get(" ".join(words[-size:]))
            if province is None:
                continue
            name_words = words[:-size]
            while len(name_words) > 1 and name_words[-1] in _PROVINCE_FILLERS:
                name_words = name_words[:-1]
            return name_words, province
        return None

    def _match_fuzzy(self, words: list[str], within: frozenset[str] | None) -> _Hits | None:
        split = self._split_province(words)
        if split is not None:
            name_words, province = split
            ranked = self._ranked(self._fuzzy_scores(name_words, within), within)
            in_province = tuple(comune for comune in ranked if comune.province_code == province)
            if in_province:
                return _Hits(in_province, exact=False)
            # No such name in that province: the "province" may be part of the name ("chignolo po").
        ranked = self._ranked(self._fuzzy_scores(words, within), within)
        return _Hits(ranked, exact=False) if ranked else None

    def _ranked(self, scores: dict[str, float], within: frozenset[str] | None) -> tuple[Comune, ...]:
        """The comuni of the scored names, best score first, then by name and province."""
        ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return tuple(
            comune
            for key, _score in ordered
            for comune in self._by_name[key]
            if within is None or comune.istat_code in within
        )

    def _fuzzy_scores(self, words: Sequence[str], within: frozenset[str] | None) -> dict[str, float]:
        """Best score per normalized name: a name opening the text, the text opening names, close spellings."""
        scores: dict[str, float] = {}

        def score(key: str, value: float) -> None:
            if value > scores.get(key, -1.0) and (
                within is None or any(comune.istat_code in within for comune in self._by_name[key])
            ):
                scores[key] = value

        for size in range(len(words) - 1, 0, -1):
            found = self._named(words[:size], within)
            if found and len(" ".join(words[:size])) >= MIN_HEAD_LENGTH:
                for comune in found:
                    score(_normalize(comune.name), HEAD_SCORE)
                break
        query = " ".join(words)
        for key in self._completions.get(query, ()):
            score(key, COMPLETION_SCORE)
        if len(query) < MIN_FUZZY_QUERY_LENGTH:
            return scores
        if within is None:
            # similarity <= shorter / longer, so only names within the cutoff's length ratio can pass.
            low = bisect.bisect_left(self._choice_lengths, int(len(query) * FUZZY_CUTOFF))
            high = bisect.bisect_right(self._choice_lengths, int(len(query) / FUZZY_CUTOFF) + 1)
            choices, keys = self._choices[low:high], self._choice_keys[low:high]
        else:
            names = {_normalize(self._by_code[code].name) for code in within if code in self._by_code}
            choices, keys = self._fuzzy_choices(sorted(names))
        for _choice, similarity, index in process.extract(
            query,
            choices,
            scorer=OSA.normalized_similarity,
            processor=None,
            limit=_FUZZY_POOL,
            score_cutoff=FUZZY_CUTOFF,
        ):
            score(keys[index], float(similarity))
        return scores
