"""Ticket codes a citizen can read aloud on the phone without ambiguity."""

from __future__ import annotations

from typing import Final

# No 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: pairs that are misread or misheard.
ALPHABET: Final = "ACDEFHJKMNPRTUVWXY3479"
LENGTH: Final = 6


def make_ticket(entropy: bytes) -> str:
    """Turn random bytes into a code like ``K7M-R4P`` (22**6, about 113 million codes).

    The caller passes the randomness, so this stays pure and testable; the
    database's unique constraint is what guarantees uniqueness.
    """
    if len(entropy) < LENGTH:
        raise ValueError(f"need at least {LENGTH} bytes of entropy")
    chars = [ALPHABET[b % len(ALPHABET)] for b in entropy[:LENGTH]]
    return "".join(chars[:3]) + "-" + "".join(chars[3:])


def normalize_ticket(text: str) -> str:
    """Read a ticket as typed ("k7m r4p", "K7MR4P") back into its canonical form."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(compact) != LENGTH:
        return compact
    return compact[:3] + "-" + compact[3:]
