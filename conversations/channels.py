"""The chat channels and what each can do, in one table: code asks the table, never a set of names of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class ChannelTraits:
    """What a channel supports and its limits; the defaults are the plainest channel (a test's fake)."""

    text_limit: int = 1600
    """Characters one message may carry; longer replies are split before they are queued."""
    buttons: bool = False
    """Options are drawn as buttons; elsewhere they are appended as a numbered list to type from."""
    word_commands: bool = False
    """A command word followed by its arguments works without the "/" ("esporta 2026-11"):
    WhatsApp has no command menu and people type words; on Telegram and the console the "/" is at hand."""
    stop_keywords: bool = False
    """A bare STOP/START opts out/in, as people expect from Twilio numbers
    (https://help.twilio.com/articles/223134027). On Telegram "/start" is the intake, and a blocked
    bot is Telegram's own opt-out."""
    media_by_url: bool = False
    """Media arrive as provider URLs that need credentials and expire: downloaded after the commit
    (when the deployment asks for it, ``[whatsapp] download_media``)."""
    reply_window: timedelta | None = None
    """Freeform messages only within this long of the citizen's last message; None: always."""
    shows_files: bool = True
    """An attachment is sent as a file; the console prints where the file is instead."""
    paced: bool = True
    """Anyone can write, as fast as they like: one person's messages are answered within a turn budget
    (``[limits]``, `bot/pacing.py`). The console is the operator's own terminal."""


class Channel(StrEnum):
    """A channel Ascolto speaks on; the value is what `Inbound.channel` and the `channel` columns hold."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"

    @property
    def traits(self) -> ChannelTraits:
        return TRAITS[self]

    @classmethod
    def named(cls, name: str) -> Channel | None:
        """The channel called `name` (as stored, lower case), or None."""
        try:
            return cls(name)
        except ValueError:
            return None


TRAITS: Final[Mapping[Channel, ChannelTraits]] = MappingProxyType(
    {
        Channel.TELEGRAM: ChannelTraits(
            text_limit=4096,  # https://core.telegram.org/bots/api#sendmessage
            buttons=True,
        ),
        Channel.WHATSAPP: ChannelTraits(
            text_limit=1600,  # a Twilio body: https://www.twilio.com/docs/api/errors/21617
            word_commands=True,
            stop_keywords=True,
            media_by_url=True,
            # The customer-service window:
            # https://www.twilio.com/docs/whatsapp/key-concepts#the-24-hour-window-or-24-hour-session
            reply_window=timedelta(hours=24),
        ),
        Channel.CONSOLE: ChannelTraits(text_limit=100_000, shows_files=False, paced=False),
    }
)
PLAIN: Final = ChannelTraits()
"""The traits of a channel name that is no `Channel` (the fakes of the tests)."""


def traits_of(channel: str) -> ChannelTraits:
    """The traits of the channel called `channel`; `PLAIN` for a name the table does not know."""
    known = Channel.named(channel)
    return known.traits if known is not None else PLAIN


def is_window_open(channel: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether a freeform message may go to someone who last wrote at `last_inbound_at`."""
    window = traits_of(channel).reply_window
    return window is None or (last_inbound_at is not None and now - last_inbound_at < window)
