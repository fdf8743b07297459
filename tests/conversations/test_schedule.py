"""Digest schedules in plain Italian: phrase → APScheduler fields → words, and kind refusals (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from conversations import Msg, Retry, Translator
from conversations.schedule import describe_schedule, parse_schedule, read_schedule, to_crontab


def fields(minute: str, hour: str, day: str = "*", day_of_week: str = "*") -> dict[str, str]:
    return {"minute": minute, "hour": hour, "day": day, "month": "*", "day_of_week": day_of_week}


PHRASES = [
    ("ogni lunedì alle 8", fields("0", "8", day_of_week="mon")),
    ("Ogni Lunedì alle ore 8", fields("0", "8", day_of_week="mon")),
    ("ogni lunedi' alle 8", fields("0", "8", day_of_week="mon")),
    ("ogni lunedí alle 8:00", fields("0", "8", day_of_week="mon")),
    ("il lunedì alle 8", fields("0", "8", day_of_week="mon")),
    ("lunedì alle 8", fields("0", "8", day_of_week="mon")),
    ("ogni mercoldì alle 8", fields("0", "8", day_of_week="wed")),
    ("ogni venrdi alle 18", fields("0", "18", day_of_week="fri")),
    ("ogni venerdì alle 18", fields("0", "18", day_of_week="fri")),
    ("ogni venerdì alle 6 di sera", fields("0", "18", day_of_week="fri")),
    ("ogi sabato alle 10", fields("0", "10", day_of_week="sat")),
    ("tutte le domeniche alle 20", fields("0", "20", day_of_week="sun")),
    ("ogni lunedì e giovedì alle 8", fields("0", "8", day_of_week="mon,thu")),
    ("ogni venerdì, lunedì e mercoledì alle 9", fields("0", "9", day_of_week="mon,wed,fri")),
    ("dal lunedì al venerdì alle 18:30", fields("30", "18", day_of_week="mon-fri")),
    ("nei giorni feriali alle 8", fields("0", "8", day_of_week="mon-fri")),
    ("ogni giorno alle 7:30", fields("30", "7")),
    ("ogni giorno alle 7.30", fields("30", "7")),
    ("tutti i giorni alle 7 e mezza", fields("30", "7")),
    ("ogni giorno alle 7 e un quarto", fields("15", "7")),
    ("ogni giorno a mezzogiorno", fields("0", "12")),
    ("ogni giorno a mezzanotte", fields("0", "0")),
    ("ogni giorno all'una", fields("0", "1")),
    ("ogni giorno alle 7h30", fields("30", "7")),
    ("il primo del mese alle 9", fields("0", "9", day="1")),
    ("il 1° del mese alle 9", fields("0", "9", day="1")),
    ("il primo di ogni mese alle 9", fields("0", "9", day="1")),
    ("ogni 15 del mese alle 9", fields("0", "9", day="15")),
    ("il giorno 15 di ogni mese alle 9", fields("0", "9", day="15")),
    ("ogni mese il 15 alle 9", fields("0", "9", day="15")),
    ("l'ultimo del mese alle 17", fields("0", "17", day="last")),
    ("alle 8 ogni lunedì", fields("0", "8", day_of_week="mon")),
]


@pytest.mark.parametrize(("phrase", "expected"), PHRASES, ids=[p for p, _ in PHRASES])
def test_an_italian_phrase_becomes_cron_trigger_fields(phrase: str, expected: dict[str, str]) -> None:
    parsed = parse_schedule(phrase)
    assert parsed == expected
    CronTrigger(**parsed, timezone=ZoneInfo("Europe/Rome"))  # APScheduler takes them as they are


REFUSALS = [
    ("", "schedule.retry_unknown"),
    ("quando vuoi tu", "schedule.retry_unknown"),
    ("ogni lunedì", "schedule.retry_time"),
    ("il primo del mese", "schedule.retry_time"),
    ("ogni lunedì alle 25", "schedule.retry_hour"),
    ("ogni giorno alle 7:75", "schedule.retry_hour"),
    ("ogni mese alle 9", "schedule.retry_month_day"),
    ("ogni settimana alle 9", "schedule.retry_week_day"),
    ("il 31 del mese alle 9", "schedule.retry_month_end"),
    ("ogni lunedì e domani alle 8", "schedule.retry_unknown"),
]


@pytest.mark.parametrize(("phrase", "msgid"), REFUSALS, ids=[p or "empty" for p, _ in REFUSALS])
def test_what_cannot_be_read_is_refused_saying_what_is_missing(phrase: str, msgid: str) -> None:
    refused = parse_schedule(phrase)
    assert isinstance(refused, Retry) and refused.msgid == msgid


@pytest.mark.parametrize(("phrase", "expected"), PHRASES, ids=[p for p, _ in PHRASES])
def test_phrase_to_fields_to_words_and_back(translator: Translator, phrase: str, expected: dict[str, str]) -> None:
    words = translator.format(describe_schedule(to_crontab(expected)), "it")
    assert parse_schedule(words) == expected, words


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 8 * * mon", "ogni lunedì alle 8"),
        ("30 7 * * *", "ogni giorno alle 7:30"),
        ("0 9 1 * *", "il primo del mese alle 9"),
        ("0 9 15 * *", "il 15 di ogni mese alle 9"),
        ("0 17 last * *", "l'ultimo del mese alle 17"),
        ("30 18 * * mon-fri", "dal lunedì al venerdì alle 18:30"),
        ("0 8 * * mon,wed,fri", "ogni lunedì, mercoledì e venerdì alle 8"),
        ("0 8 * * 0", "ogni lunedì alle 8"),  # APScheduler 3.x counts weekdays from Monday = 0, and that is what fires
        ("30 1 * * sun", "ogni domenica all'1:30"),
        ("0 0 * * *", "ogni giorno a mezzanotte"),
    ],
)
def test_a_stored_schedule_reads_in_words(translator: Translator, cron: str, words: str) -> None:
    assert translator.format(describe_schedule(cron), "it") == words


@pytest.mark.parametrize("cron", ["*/15 * * * *", "0 8 * 1 mon", "0 8,12 * * *", "0 8 * * 1-5", "0 9 1 * mon", "0 9 31 * *"])
def test_a_cron_with_no_italian_phrasing_is_shown_as_cron_with_a_short_explanation(translator: Translator, cron: str) -> None:
    assert describe_schedule(cron) == Msg("schedule.cron", {"cron": cron})
    assert "formato cron" in translator.format(describe_schedule(cron), "it")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0 8 * * mon", "0 8 * * mon"),
        ("  30   7 1 * *  ", "30 7 1 * *"),
        ("ogni venerdì alle 18", "0 18 * * fri"),
        ("ogni giorno alle 7 30", "30 7 * * *"),
    ],
)
def test_an_admin_may_write_a_cron_or_words_and_a_cron_is_stored(typed: str, stored: str) -> None:
    assert read_schedule(typed) == stored
    trigger = CronTrigger.from_crontab(stored, timezone=ZoneInfo("Europe/Rome"))
    assert trigger.get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=UTC)) is not None


def test_a_broken_cron_is_refused_with_an_example() -> None:
    assert read_schedule("0 25 * * mon") == Retry("schedule.retry_cron", {"example": "0 8 * * mon"})
