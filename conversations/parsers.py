"""Small pure parsers: each returns a value or a `Retry` whose message carries an example."""

from __future__ import annotations

from typing import Final

import phonenumbers

from conversations._text import clean
from conversations.comuni import ComuneLookup
from conversations.types import Answer, Answers, Context, Retry

MIN_DESCRIPTION_CHARS: Final = 5
MAX_DESCRIPTION_CHARS: Final = 4096
"""A whole Telegram message (WhatsApp's are 1600): one message is never refused for its length."""


def parse_description(answer: Answer, answers: Answers, ctx: Context) -> str | Retry:
    text = clean(answer.text)
    if len(text) < MIN_DESCRIPTION_CHARS or not any(ch.isalpha() for ch in text):
        return Retry("intake.retry_description_short")
    if len(text) > MAX_DESCRIPTION_CHARS:
        return Retry("intake.retry_description_long", {"max": MAX_DESCRIPTION_CHARS})
    return text


def parse_comune(answer: Answer, answers: Answers, ctx: Context) -> ComuneLookup | Retry:
    lookup = ctx.gazetteer.lookup(answer.text)
    if not lookup.candidates:
        return Retry("intake.retry_comune")
    return lookup


def parse_phone(answer: Answer, answers: Answers, ctx: Context) -> str | Retry:
    """A phone number, mobile or landline, stored as E.164 ("+393331234567").

    Without a "+" it is read as Italian; with one, any country's valid number is accepted
    (people who write to us may have a foreign SIM)."""
    text = answer.text.strip()
    if not text or len(text) > 32:
        return Retry("intake.retry_phone")
    try:
        number = phonenumbers.parse(text, "IT")
    except phonenumbers.NumberParseException:
        return Retry("intake.retry_phone")
    if not phonenumbers.is_valid_number(number):
        return Retry("intake.retry_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
