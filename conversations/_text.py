"""Text normalisation shared by the parsers and the engine's option matching."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_ROW_ID: Final = 2**31 - 1
"""The largest id an INTEGER primary key holds on PostgreSQL: a typed id above it names no row."""

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


def small_int(text: str, maximum: int, *, minimum: int = 0) -> int | None:
    """The number `text` spells in ASCII digits when it lies in [minimum, maximum], else None.

    The one reading of a typed number (issue 13): ``str.isdigit`` is true for "፩" (Ethiopic) and
    "²", which ``int()`` refuses with a ValueError; ``int()`` refuses more than 4,300 digits; and
    40 digits overflow a database id. Leading zeros are read ("007" is 7), signs and spaces are not.
    """
    if not text or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):
        return None
    value = int(digits)
    return value if minimum <= value <= maximum else None
