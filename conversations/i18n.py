"""Turns msgids into Italian (or English) text, with Babel for dates and numbers."""

from __future__ import annotations

import gettext
import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from conversations._text import fold
from conversations.messages import Msg, Option, Reply

logger = logging.getLogger(__name__)

DOMAIN: Final = "ascolto"
SOURCE_LANGUAGE: Final = "it"
DATE_FORMAT: Final = "d MMMM y, HH:mm"
DAY_FORMAT: Final = "d MMMM y"


@dataclass(frozen=True, slots=True)
class RenderedOption:
    payload: str
    label: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply in one language, ready for a channel renderer."""

    text: str
    options: tuple[RenderedOption, ...] = ()
    number_hint: str = ""


def discover_languages(locales_dir: Path) -> tuple[str, ...]:
    """The languages with a catalog in `locales_dir`, the source language first: adding
    ``locales/xx/LC_MESSAGES/ascolto.po`` is all it takes to offer one more."""
    found = sorted(p.parent.parent.name for p in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple(dict.fromkeys((SOURCE_LANGUAGE, *found))) if SOURCE_LANGUAGE in found else tuple(found)


def language_option(code: str) -> Option:
    """A language as a choice: its own name ("English", "Italiano", "Français"), also typed as
    its Italian and English names or its code ("inglese", "english", "en")."""
    try:
        locale = Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return Option(code, code, (code,))
    own = str(locale.get_display_name(code) or code)
    names = (code, own, *(str(locale.get_display_name(lang) or "") for lang in (SOURCE_LANGUAGE, "en")))
    return Option(code, own[:1].upper() + own[1:], tuple(dict.fromkeys(fold(n) for n in names if n)))


def compile_catalogs(locales_dir: Path) -> list[Path]:
    """Compile every `.po` whose `.mo` is missing or older, so a fresh clone just works."""
    written = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as src:
            catalog = read_po(src, locale=po_path.parent.parent.name, domain=DOMAIN)
        with mo_path.open("wb") as dst:
            write_mo(dst, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


def po_messages(po_path: Path) -> dict[str, str]:
    """The msgid -> msgstr pairs of a catalog (used by tests and flow validation)."""
    with po_path.open("rb") as src:
        catalog = read_po(src)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        logger.error("missing placeholder %s", key)
        return ""


class Translator:
    """All catalogs, loaded once at start-up; rendering never raises."""

    def __init__(
        self,
        locales_dir: Path,
        *,
        languages: Iterable[str] | None = None,
        timezone: str = "Europe/Rome",
    ) -> None:
        compile_catalogs(locales_dir)
        self.languages = tuple(languages) if languages is not None else discover_languages(locales_dir)
        self.tz = ZoneInfo(timezone)
        self._catalogs: dict[str, gettext.GNUTranslations] = {}
        for lang in self.languages:
            with (locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fp:
                self._catalogs[lang] = gettext.GNUTranslations(fp)
        self.msgids = frozenset(po_messages(locales_dir / SOURCE_LANGUAGE / "LC_MESSAGES" / f"{DOMAIN}.po"))

    def language(self, lang: str | None) -> str:
        return lang if lang in self._catalogs else SOURCE_LANGUAGE

    def gettext(self, msgid: str, lang: str | None = None) -> str:
        lang = self.language(lang)
        text = self._catalogs[lang].gettext(msgid)
        if text == msgid and lang != SOURCE_LANGUAGE:
            text = self._catalogs[SOURCE_LANGUAGE].gettext(msgid)
        if text == msgid:
            logger.error("msgid %s has no translation", msgid)
        return text

    def format(self, msg: Msg, lang: str | None = None) -> str:
        lang = self.language(lang)
        params = _Lenient({k: self._value(v, lang) for k, v in msg.params.items()})
        template = self.gettext(msg.id, lang)
        try:
            return template.format_map(params)
        except (ValueError, IndexError):
            logger.error("msgid %s has a malformed template", msg.id)
            return template

    def render(self, reply: Reply, lang: str | None = None) -> Rendered:
        options = tuple(
            RenderedOption(o.payload, o.label if isinstance(o.label, str) else self.format(o.label, lang))
            for o in reply.options
        )
        hint = self.gettext("render.reply_with_number", lang) if options else ""
        return Rendered(text=self.format(reply.text, lang), options=options, number_hint=hint)

    def moment(self, value: datetime, lang: str | None = None) -> str:
        """A moment as people read it: in the configured time zone, "3 dicembre 2026, 18:22"."""
        return format_datetime(value, DATE_FORMAT, tzinfo=self.tz, locale=self.language(lang))

    def _value(self, value: object, lang: str) -> object:
        if isinstance(value, Msg):
            return self.format(value, lang)
        if isinstance(value, tuple | list):
            return "\n".join(str(self._value(v, lang)) for v in value)
        if isinstance(value, datetime):
            return self.moment(value, lang)
        if isinstance(value, date):  # a calendar day, already in the reader's zone
            return format_date(value, DAY_FORMAT, locale=lang)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float):
            return format_decimal(value, locale=lang)
        return value


def catalog_path(locales_dir: Path, lang: str) -> Path:
    return locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def missing_messages(source: Mapping[str, str], target: Mapping[str, str]) -> list[str]:
    return sorted(k for k in source if not target.get(k))
