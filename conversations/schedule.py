"""Digest schedules in plain Italian ("ogni lunedì alle 8") or cron, read into APScheduler fields and shown back in words."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from rapidfuzz.distance import OSA

from conversations._text import fold
from conversations.coop_rules import check_cron
from conversations.messages import Msg
from conversations.types import Retry

Fields = dict[str, str]
"""APScheduler 3.x `CronTrigger` keyword arguments: ``{"minute": "0", "hour": "8", "day": "*", "month": "*", "day_of_week": "mon"}``."""

CRON_FIELDS: Final = ("minute", "hour", "day", "month", "day_of_week")
"""The five crontab fields in order, as `CronTrigger.from_crontab` reads them."""
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""APScheduler's weekday names; in 3.x a number counts from Monday = 0 (not crontab's Sunday = 0)."""
_DAY_WORDS: Final[Mapping[str, str]] = {
    "lunedi": "mon",
    "martedi": "tue",
    "mercoledi": "wed",
    "giovedi": "thu",
    "venerdi": "fri",
    "sabato": "sat",
    "sabati": "sat",
    "domenica": "sun",
    "domeniche": "sun",
}
MAX_TYPOS: Final = 2
"""Edits (OSA distance) a weekday may carry and still be read: "mercoldi", "venrdi", "giovedì'"."""
LAST_SAFE_DAY: Final = 28
"""Days after the 28th are missing from some months: a schedule on the 31st would skip them."""
_NUMBER_WORDS: Final[Mapping[str, int]] = {"primo": 1, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5}

_TIME = re.compile(
    r"\b(?:alle ore|alle|all|ore|a)\s+(?P<word>mezzogiorno|mezzanotte|una)"
    r"|\b(?:alle ore|alle|all|ore|verso le)\s+(?P<hour>\d{1,2})(?:\s*(?:h\s*)?(?P<minute>\d{2})\b)?"
    r"(?:\s+e\s+(?P<part>mezza|mezzo|un quarto|quarto|tre quarti|\d{1,2}))?"
    r"(?:\s+(?P<half>di sera|del pomeriggio|di pomeriggio|di mattina|del mattino))?"
    r"|\b(?P<compact>\d{1,2})h(?P<cminute>\d{2})?\b"
)
_PARTS: Final[Mapping[str, int]] = {"mezza": 30, "mezzo": 30, "un quarto": 15, "quarto": 15, "tre quarti": 45}
_DAILY = re.compile(r"^(?:ogni giorno|tutti i giorni|ogni di|al giorno|giornaliero|quotidiano)$")
_WORKDAYS = re.compile(r"^(?:dal lunedi al venerdi|(?:nei |i )?giorni feriali|feriali|(?:ogni |nei )?giorni lavorativi)$")
_MONTHLY = re.compile(
    r"^(?:ogni |il |l )?(?:giorno )?(?P<day>\w+)(?: giorno)? (?:del mese|di ogni mese|di tutti i mesi|del mese ogni mese)$"
    r"|^ogni mese (?:il |l )?(?:giorno )?(?P<day2>\w+)$"
)
_FILLERS: Final = frozenset({"e", "ed", "il", "la", "ogni", "tutti", "tutte", "i", "le", "di", "nei"})
"""Words between weekdays that say nothing more ("ogni lunedì e il giovedì"); a misspelt "ogni" ("ogi") too."""
_WEEKLY_LEAD = re.compile(r"^(?:ogni|tutti i|tutte le|il|la|di|nei|i|le)\s+")


def read_schedule(text: str) -> str | Retry:
    """What an admin wrote as the digest schedule, as the crontab string stored: a cron, or an Italian phrase."""
    words = " ".join(text.split())
    if _looks_like_cron(words):
        return words if check_cron(words) is None else Retry("schedule.retry_cron", {"example": "0 8 * * mon"})
    parsed = parse_schedule(words)
    return parsed if isinstance(parsed, Retry) else to_crontab(parsed)


def parse_schedule(text: str) -> Fields | Retry:
    """An Italian phrase as `CronTrigger` fields, or a kind "try again" saying what is missing.

    "ogni lunedì alle 8" → ``{"minute": "0", "hour": "8", "day": "*", "month": "*", "day_of_week": "mon"}``;
    "il primo del mese alle 9", "ogni giorno alle 7:30", "dal lunedì al venerdì alle 18", "l'ultimo del mese a mezzogiorno".
    """
    folded = fold(text)
    if not folded:
        return Retry("schedule.retry_unknown")
    found = _TIME.search(folded)
    when = _strip_time(folded, found) if found is not None else folded
    days = _when(when)
    if isinstance(days, Retry):
        return days
    if found is None:
        return Retry("schedule.retry_time")
    time = _time(found)
    if time is None:
        return Retry("schedule.retry_hour")
    hour, minute = time
    return {"minute": str(minute), "hour": str(hour), "day": days[0], "month": "*", "day_of_week": days[1]}


def to_crontab(fields: Mapping[str, str]) -> str:
    return " ".join(fields[name] for name in CRON_FIELDS)


def from_crontab(cron: str) -> Fields | None:
    parts = cron.split()
    return dict(zip(CRON_FIELDS, parts, strict=True)) if len(parts) == len(CRON_FIELDS) else None


def describe_schedule(cron: str) -> Msg:
    """A stored schedule in words ("ogni lunedì alle 8"); a cron with no such phrasing is shown as it is, explained."""
    fields = from_crontab(cron)
    words = _describe(fields) if fields is not None else None
    return words if words is not None else Msg("schedule.cron", {"cron": cron})


def _looks_like_cron(text: str) -> bool:
    """Five fields whose minute and hour are crontab's own ("0 8 * * mon", "*/30 7-9 * * *"), not words."""
    parts = text.split()
    return len(parts) == len(CRON_FIELDS) and all(re.fullmatch(r"[\d*/,\-]+", p) for p in parts[:2])


def _strip_time(folded: str, found: re.Match[str]) -> str:
    return " ".join((folded[: found.start()] + " " + folded[found.end() :]).split())


def _time(found: re.Match[str]) -> tuple[int, int] | None:
    word = found.group("word")
    if word is not None:
        return {"mezzogiorno": (12, 0), "mezzanotte": (0, 0), "una": (1, 0)}[word]
    hour = int(found.group("hour") or found.group("compact"))
    minute_text = found.group("minute") or found.group("cminute")
    part = found.group("part")
    minute = int(minute_text) if minute_text else 0
    if part is not None:
        minute = _PARTS[part] if part in _PARTS else int(part)
    if found.group("half") in ("di sera", "del pomeriggio", "di pomeriggio") and hour < 12:
        hour += 12
    return (hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


def _when(words: str) -> tuple[str, str] | Retry:
    """(day, day_of_week) for what is left once the time is taken out, or why it cannot be read."""
    if _DAILY.match(words):
        return "*", "*"
    if _WORKDAYS.match(words):
        return "*", "mon-fri"
    monthly = _MONTHLY.match(words)
    if monthly is not None:
        return _month_day(monthly.group("day") or monthly.group("day2"))
    if words in ("ogni mese", "al mese", "mensile", "una volta al mese"):
        return Retry("schedule.retry_month_day")
    if words in ("ogni settimana", "alla settimana", "settimanale", "una volta a settimana", "una volta alla settimana"):
        return Retry("schedule.retry_week_day")
    weekly = _weekdays(_WEEKLY_LEAD.sub("", words))
    if weekly:
        return "*", ",".join(weekly)
    return Retry("schedule.retry_unknown")


def _month_day(word: str) -> tuple[str, str] | Retry:
    if word in ("ultimo", "ultima"):
        return "last", "*"
    day = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
    if day is None or day < 1 or day > 31:
        return Retry("schedule.retry_unknown")
    if day > LAST_SAFE_DAY:
        return Retry("schedule.retry_month_end", {"day": day})
    return str(day), "*"


def _weekdays(words: str) -> list[str]:
    """Weekdays named in `words` ("lunedi e giovedi", "lunedi, mercoledi e venerdi"), in week order; [] if any word is not one."""
    tokens = [t for t in re.split(r"\s+|,", words) if t and t not in _FILLERS and OSA.distance(t, "ogni") > 1]
    found: set[str] = set()
    for token in tokens:
        day = _weekday(token)
        if day is None:
            return []
        found.add(day)
    return [d for d in WEEKDAYS if d in found]


def _weekday(token: str) -> str | None:
    if token in _DAY_WORDS:
        return _DAY_WORDS[token]
    if len(token) < 5:
        return None
    best = min(_DAY_WORDS, key=lambda w: OSA.distance(token, w))
    return _DAY_WORDS[best] if OSA.distance(token, best) <= MAX_TYPOS else None


def _describe(fields: Fields) -> Msg | None:
    if not (fields["minute"].isdigit() and fields["hour"].isdigit() and fields["month"] == "*"):
        return None
    hour, minute = int(fields["hour"]), int(fields["minute"])
    if hour > 23 or minute > 59:
        return None
    at = _at(hour, minute)
    day, weekday = fields["day"], fields["day_of_week"].lower()
    if day == "*" and weekday in ("*", "?"):
        return Msg("schedule.daily", {"at": at})
    if day == "*" and weekday in ("mon-fri", "0-4"):
        return Msg("schedule.workdays", {"at": at})
    if day == "*":
        days = _named_days(weekday)
        return Msg("schedule.weekly", {"days": _and([Msg(f"schedule.day_{d}") for d in days]), "at": at}) if days else None
    if weekday not in ("*", "?"):
        return None
    if day == "last":
        return Msg("schedule.monthly_last", {"at": at})
    if day == "1":
        return Msg("schedule.monthly_first", {"at": at})
    if day.isdigit() and 1 < int(day) <= LAST_SAFE_DAY:
        return Msg("schedule.monthly", {"day": day, "at": at})
    return None


def _named_days(weekday: str) -> list[str]:
    """The weekdays of a list of single days ("mon,thu", "0,3"), in week order; [] for ranges and steps."""
    found: set[str] = set()
    for item in weekday.split(","):
        if item in WEEKDAYS:
            found.add(item)
        elif item.isdigit() and int(item) < len(WEEKDAYS):
            found.add(WEEKDAYS[int(item)])
        else:
            return []
    return [d for d in WEEKDAYS if d in found]


def _and(items: Sequence[Msg]) -> Msg:
    """``lunedì``, ``lunedì e giovedì``, ``lunedì, mercoledì e venerdì``."""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return Msg("schedule.and", {"first": items[0], "last": items[1]})
    return Msg("schedule.comma", {"first": items[0], "rest": _and(items[1:])})


def _at(hour: int, minute: int) -> Msg:
    """"alle 8", "alle 7:30", "all'1", "a mezzanotte": how the time reads after the days."""
    if hour == 0 and minute == 0:
        return Msg("schedule.at_midnight")
    time = str(hour) if minute == 0 else f"{hour}:{minute:02d}"
    return Msg("schedule.at_one" if hour == 1 else "schedule.at", {"time": time})
