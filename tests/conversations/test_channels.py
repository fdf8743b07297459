"""The channel table: each channel's traits in one place, and the plainest traits for a name it does not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversations import Channel, ChannelTraits, traits_of
from conversations.channels import PLAIN, TRAITS, is_window_open
from handlers.render import text_limit

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_every_channel_has_one_row_and_its_value_is_the_stored_name() -> None:
    assert set(TRAITS) == set(Channel)
    assert [c.value for c in Channel] == ["telegram", "whatsapp", "console"]


def test_the_traits_of_each_channel() -> None:
    assert Channel.TELEGRAM.traits == ChannelTraits(text_limit=4096, buttons=True)
    assert Channel.WHATSAPP.traits == ChannelTraits(
        text_limit=1600, word_commands=True, stop_keywords=True, media_by_url=True, reply_window=timedelta(hours=24)
    )
    assert Channel.CONSOLE.traits == ChannelTraits(text_limit=100_000, shows_files=False, paced=False)


def test_a_name_the_table_does_not_know_gets_the_plainest_traits() -> None:
    assert traits_of("test") is PLAIN
    assert PLAIN == ChannelTraits(text_limit=1600)
    assert not (PLAIN.buttons or PLAIN.word_commands or PLAIN.stop_keywords or PLAIN.media_by_url)


@pytest.mark.parametrize(
    ("name", "found"),
    [("telegram", Channel.TELEGRAM), ("whatsapp", Channel.WHATSAPP), ("console", Channel.CONSOLE), ("sms", None), ("", None)],
)
def test_named(name: str, found: Channel | None) -> None:
    assert Channel.named(name) is found


def test_handlers_read_their_text_limit_from_the_table() -> None:
    for channel in Channel:
        assert text_limit(channel) == channel.traits.text_limit
    assert (text_limit("telegram"), text_limit("whatsapp"), text_limit("test")) == (4096, 1600, 1600)


def test_word_channels_is_the_word_commands_column() -> None:
    assert {c.value for c in Channel if c.traits.word_commands} == {"whatsapp"}


def test_the_reply_window_closes_after_24_hours_on_whatsapp_only() -> None:
    just_inside, just_outside = NOW - timedelta(hours=23, minutes=59), NOW - timedelta(hours=24)
    assert is_window_open("whatsapp", just_inside, NOW)
    assert not is_window_open("whatsapp", just_outside, NOW)
    assert not is_window_open("whatsapp", None, NOW)
    assert is_window_open("telegram", None, NOW) and is_window_open("console", just_outside, NOW)
