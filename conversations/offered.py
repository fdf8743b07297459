"""Choices shown outside a flow (a command's reply with buttons), remembered so the next message can answer them.

``/richiesta K7M-R4P`` answers with "1. Prendo in carico 2. Non di nostra competenza"; on Telegram
those are buttons, on WhatsApp and the console a numbered list. A button sends its payload, a
command ("/prendo K7M-R4P"); typed "1", "prendo in carico" or "non è di nostra competenza" must
do the same. No flow is waiting for that answer, so the engine keeps the choices of the turn's
last reply with options in the (otherwise empty) answers of the idle conversation, and reads the
next message against them before anything else (`Engine.recognise`). Any reply built anywhere
with command payloads gets this for free: its options need only words (`Option.aliases`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from conversations._text import fold
from conversations.messages import Option, Reply

KEY: Final = "_offered"
"""Where an idle conversation keeps the choices last shown: a list of {payload, words, means}."""


def is_command(payload: str) -> bool:
    """A payload that names a command ("/prendo K7M-R4P"): it works whatever the conversation's state."""
    return payload.startswith("/") and len(payload) > 1


def remembered(replies: Sequence[Reply]) -> Mapping[str, object]:
    """The answers an idle conversation keeps after these replies: the last offered commands, or nothing.

    Only command payloads are kept: outside a flow nothing else could take a plain payload.
    """
    shown = next((r.options for r in reversed(replies) if r.options), ())
    if not shown or not all(is_command(o.payload) for o in shown):
        return MappingProxyType({})
    return MappingProxyType({KEY: [_stored(o) for o in shown]})


def recalled(answers: Mapping[str, object]) -> tuple[Option, ...]:
    """The choices `remembered` kept, as options the engine can match; () when none (or unreadable)."""
    raw = answers.get(KEY)
    if not isinstance(raw, list):
        return ()
    options = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("payload"), str):
            return ()
        words = item.get("words")
        means = item.get("means")
        options.append(
            Option(
                str(item["payload"]),
                "",
                tuple(str(w) for w in words) if isinstance(words, list) else (),
                means=str(means) if isinstance(means, str) else None,
            )
        )
    return tuple(options)


def _stored(option: Option) -> dict[str, object]:
    """An option as JSON: its payload, the words that select it (the command's own name among them), its yes/no."""
    name = option.payload[1:].split(maxsplit=1)[0]
    words = [*option.aliases, *((option.label,) if isinstance(option.label, str) else ()), name]
    return {"payload": option.payload, "words": list(dict.fromkeys(w for w in words if fold(w))), "means": option.means}
