"""Text normalisation shared by the parsers and the engine's option matching."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces: "  Sì, grazie! " -> "si grazie"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", stripped.casefold()).replace("_", " ")).strip()


def clean(text: str) -> str:
    """Drop control characters (keeping new lines) and trim, so stored text is printable."""
    kept = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    )
    return kept.strip()
