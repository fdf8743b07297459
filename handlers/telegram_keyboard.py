"""Pure renderers for Telegram buttons: options to an inline keyboard, callback_data back to a choice.

callback_data carries the conversation version the buttons were drawn for, so a
button pressed after the conversation moved on is refused kindly by the engine:

    "v12|casa"   version 12, option payload "casa"
    "v|claim:7"  no version (a notification's buttons), payload "claim:7"
    "v12#3"      version 12, the third option: used when "v12|<payload>" would not
                 fit Telegram's 64 bytes; the adapter turns it into the typed answer
                 "3", which the engine matches by position against the same options
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_CALLBACK_DATA_BYTES: Final = 64
"""https://core.telegram.org/bots/api#inlinekeyboardbutton: callback_data is 1-64 bytes (UTF-8)."""
MAX_BUTTONS: Final = 100
"""Telegram refuses an inline keyboard with more buttons (REPLY_MARKUP_TOO_LONG)."""

_PRESS: Final = re.compile(r"v(\d{0,18})([|#])(.*)", re.DOTALL | re.ASCII)


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """What a pressed button means: a payload, or a 1-based position when the payload did not fit."""

    version: int | None
    payload: str | None = None
    position: int | None = None


def callback_data(payload: str, position: int, version: int | None) -> str:
    """``v<version>|<payload>``, or ``v<version>#<position>`` when that exceeds 64 bytes."""
    prefix = "v" if version is None else f"v{version}"
    data = f"{prefix}|{payload}"
    if len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        return data
    return f"{prefix}#{position}"


def render_keyboard(options: Sequence[tuple[str, str]], version: int | None) -> InlineKeyboardMarkup | None:
    """One button a row (easiest to read and hit for elderly users); None when there are no options."""
    if not options:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in _buttons(options, version)])


def keyboard_json(options: Sequence[tuple[str, str]], version: int | None) -> dict[str, list[list[dict[str, str]]]] | None:
    """`render_keyboard` as the Bot API's own JSON: what a text reply sends (`TelegramSender`), without
    PTB's objects, which cost ~45 µs more a keyboard to build and serialise (issue 18)."""
    if not options:
        return None
    return {"inline_keyboard": [[{"text": text, "callback_data": data}] for text, data in _buttons(options, version)]}


def _buttons(options: Sequence[tuple[str, str]], version: int | None) -> list[tuple[str, str]]:
    """Each button's text and callback_data: a blank label shows the payload."""
    return [
        (label.strip() or payload, callback_data(payload, position, version))
        for position, (payload, label) in enumerate(options[:MAX_BUTTONS], start=1)
    ]


def parse_callback(data: str | None) -> ButtonPress | None:
    """The meaning of callback_data we drew, or None when it is not ours (or not any more)."""
    match = _PRESS.fullmatch(data or "")
    if match is None:
        return None
    raw_version, kind, rest = match.groups()
    version = int(raw_version) if raw_version else None
    if kind == "|":
        return ButtonPress(version, payload=rest) if rest else None
    if not (rest.isascii() and rest.isdigit()) or not 1 <= int(rest) <= MAX_BUTTONS:
        return None
    return ButtonPress(version, position=int(rest))
