"""Yes, no, or unclear: in many words, with negation that scopes over the words it governs.

"non va bene" is a no, "non è urgente" does not select "urgente", "sì ma il comune è sbagliato"
is unclear. A negator governs the words after it up to a clause break ("ma", "però", "but", a
comma in the original text is already gone after folding, so the break words carry it) or
`SCOPE` words, whichever comes first.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from conversations._text import fold

NEGATORS: Final = frozenset(
    {"non", "no", "mica", "nessun", "nessuno", "nessuna", "neanche", "nemmeno", "neppure", "mai", "niente", "nulla",
     "not", "dont", "never", "nope", "isnt", "doesnt", "didnt", "cannot", "cant", "wont", "arent", "wasnt"}
)
"""Words that turn what follows them around (English contractions as `words` joins them: "dont")."""
BREAKS: Final = frozenset({"ma", "pero", "però", "invece", "anzi", "but", "however", "piuttosto", "bensi"})
"""Words that end a negation's scope: "non subito, ma nei prossimi giorni"."""
SCOPE: Final = 4
"""How many words after a negator it governs at most ("non è proprio per niente urgente")."""

YES_PHRASES: Final = frozenset(
    {"si", "sì", "certo", "certamente", "esatto", "esattamente", "giusto", "corretto", "d accordo", "daccordo",
     "ok", "okay", "okei", "va bene", "vabene", "va benissimo", "benissimo", "perfetto", "confermo", "conferma",
     "accetto", "acconsento", "invia", "procedi", "sicuro", "sicuramente", "volentieri", "yes", "yep", "yeah",
     "sure", "of course", "correct", "right", "agree", "i agree", "fine", "nessun problema", "non c e problema",
     "no problem", "tutto giusto", "tutto bene", "tutto ok", "tutto a posto"}
)
NO_PHRASES: Final = frozenset(
    {"no", "nope", "preferisco di no", "meglio di no", "direi di no", "rifiuto", "sbagliato", "sbagliata",
     "errato", "errata", "errore", "correggi", "cambia", "modifica", "wrong", "nein", "no grazie"}
)
"""A no on its own; any negator outside a yes-phrase is a no too ("non sono d'accordo")."""


class Polarity(StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"
    """Both a yes and a no, or a yes that is negated and more: ask again."""
    NONE = "none"
    """Neither: the answer may still name an option ("1", "Ravenna")."""


_APOSTROPHE_T: Final = re.compile(r"\b(\w+n) t\b")
"""English contractions after folding: "don't" is "don t", "isn't" "isn t"; joined back to "dont", "isnt"."""


def words(text: str) -> tuple[str, ...]:
    return tuple(_APOSTROPHE_T.sub(r"\1t", fold(text)).split())


def negated_positions(tokens: tuple[str, ...]) -> frozenset[int]:
    """The positions of the words some negator governs (the negators themselves not included)."""
    hidden: set[int] = set()
    for i, token in enumerate(tokens):
        if token not in NEGATORS:
            continue
        for j in range(i + 1, min(len(tokens), i + 1 + SCOPE)):
            if tokens[j] in BREAKS:
                break
            hidden.add(j)
    return frozenset(hidden)


def _phrases(tokens: tuple[str, ...], vocabulary: frozenset[str]) -> list[tuple[int, int]]:
    """Every (start, end) span of `tokens` that is a phrase of `vocabulary`, longest first where they overlap."""
    spans: list[tuple[int, int]] = []
    longest = max(len(p.split()) for p in vocabulary)
    taken: set[int] = set()
    for size in range(longest, 0, -1):
        for start in range(0, len(tokens) - size + 1):
            span = range(start, start + size)
            if any(k in taken for k in span):
                continue
            if " ".join(tokens[start : start + size]) in vocabulary:
                spans.append((start, start + size))
                taken.update(span)
    return spans


def polarity(text: str) -> Polarity:
    """Whether `text` says yes, no, both (unclear), or neither.

    A yes inside a negation's scope counts as a no ("non va bene", "non sono d'accordo", "not
    ok"); an answer with both a yes and a no is unclear ("sì, anzi no", "va bene ma il comune è
    sbagliato"); a no-phrase is a no. So no answer containing a negated yes is ever a yes.
    """
    tokens = words(text)
    if not tokens:
        return Polarity.NONE
    spans = _phrases(tokens, YES_PHRASES)
    inside = {k for start, end in spans for k in range(start, end)}
    # Negators inside a yes-phrase ("nessun problema", "non c'è problema") are part of its meaning.
    outside = tuple(t if i not in inside else "" for i, t in enumerate(tokens))
    hidden = negated_positions(outside)
    yes = no = False
    for start, end in spans:
        if any(k in hidden for k in range(start, end)):
            no = True
        else:
            yes = True
    if _phrases(outside, NO_PHRASES) or any(t in NEGATORS for t in outside):
        no = True
    if yes and no:
        return Polarity.UNCLEAR
    if yes:
        return Polarity.YES
    if no:
        return Polarity.NO
    return Polarity.NONE
