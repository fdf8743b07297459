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


def is_ticket(text: str) -> bool:
    """Whether a whole message looks like a ticket code: 6 characters of our alphabet, written with a
    separator ("K7M-R4P", "k7m r4p") or with a digit ("k7mr4p"); "arance" is a word, not a code."""
    raw = text.strip().upper()
    compact = "".join(ch for ch in raw if ch.isalnum())
    if len(compact) != LENGTH or any(ch not in ALPHABET for ch in compact) or len(raw) > LENGTH + 2:
        return False
    return any(ch.isdigit() for ch in compact) or any(ch in "- " for ch in raw)


INVITE_LENGTH: Final = 8


def make_invite_code(entropy: bytes) -> str:
    """An operator invite code like ``K7MR-4PXA``: the ticket alphabet, 22**8 (about 55 billion) codes."""
    if len(entropy) < INVITE_LENGTH:
        raise ValueError(f"need at least {INVITE_LENGTH} bytes of entropy")
    chars = "".join(ALPHABET[b % len(ALPHABET)] for b in entropy[:INVITE_LENGTH])
    return chars[:4] + "-" + chars[4:]


def compact_code(text: str) -> str:
    """An invite code as stored: upper case, separators dropped ("k7mr 4pxa" -> "K7MR4PXA")."""
    return "".join(ch for ch in text.upper() if ch.isalnum())[:16]
