"""Pure renderers shared by the channels: splitting long text within a channel's limit."""

from __future__ import annotations

from conversations import traits_of


def text_limit(channel: str) -> int:
    """Characters one message may carry on `channel`, from the channel table (`ChannelTraits.text_limit`)."""
    return traits_of(channel).text_limit


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, on line boundaries when possible.

    A line longer than the limit is cut at the last space before it, or hard
    when there is none. Never returns an empty list, never an empty part.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text] if text else [" "]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            parts.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:limit]]
