"""Reads a cooperatives TOML file into validated specs, with errors that name the line and the field."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from conversations import Gazetteer, Retry, TerritoryKind
from conversations.coop_rules import COOP_SLUG, DEFAULT_DIGEST, Problem, Territory, check_categories, check_timezone
from conversations.schedule import read_schedule
from storage.cooperatives import CooperativeSpec

TABLE: Final = "cooperative"
KEYS: Final = frozenset(
    {"slug", "name", "language", "timezone", "digest", "active", "categories", "comuni", "province", "regioni"}
)
SLUG: Final = COOP_SLUG
LANGUAGES: Final = ("it", "en")
_SCHEDULE_HELP: Final = (
    "not a schedule: write it in Italian with a day and a time ('ogni lunedì alle 8', 'il primo del mese alle 9',"
    " 'ogni giorno alle 7:30') or as a crontab (minute hour day month weekday, e.g. '0 8 * * mon')"
)


@dataclass(frozen=True, slots=True)
class FileError:
    """One problem: ``coops.toml:12: cooperative[2].categories: unknown category 'spessa'``."""

    line: int
    field: str
    message: str

    def render(self, path: str) -> str:
        return f"{path}:{self.line}: {self.field}: {self.message}"


class _Locator:
    """Finds the line of a table, key or value in the source text.

    `tomllib` returns plain dicts without positions, so we scan the text: the
    n-th ``[[cooperative]]`` header starts the n-th table, a key is the first
    ``key =`` line inside that table, and a list item is the first line from
    the key on that contains the quoted value. Good enough for hand-written
    files; when a search fails we fall back to the key's line, then the table's.
    """

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        header = re.compile(rf"^\s*\[\[\s*{TABLE}\s*\]\]")
        self.starts = [i for i, line in enumerate(self.lines) if header.match(line)]

    def _block(self, index: int) -> tuple[int, int]:
        if index >= len(self.starts):
            return 0, len(self.lines)
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines)
        for i in range(start + 1, end):  # another table ([x] or [[x]]) ends this one too
            if re.match(r"^\s*\[", self.lines[i]) and not re.match(r"^\s*\[\s*\]", self.lines[i]):
                if not self.lines[i].lstrip().startswith("[["):
                    return start, i
        return start, end

    def table(self, index: int) -> int:
        return self._block(index)[0] + 1

    def key(self, index: int, key: str) -> int:
        start, end = self._block(index)
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1

    def value(self, index: int, key: str, value: object) -> int:
        key_line = self.key(index, key)
        _, end = self._block(index)
        needles = (f'"{value}"', f"'{value}'") if isinstance(value, str) else (str(value),)
        for i in range(key_line - 1, end):
            if any(n in self.lines[i] for n in needles):
                return i + 1
        return key_line


def parse(
    source: str, *, categories: Collection[str], gazetteer: Gazetteer
) -> tuple[list[CooperativeSpec], list[FileError]]:
    """Every cooperative in `source`, or every error found (then nothing should be imported)."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        return [], [FileError(int(match.group(1)) if match else 1, "(file)", f"not valid TOML: {exc}")]
    where = _Locator(source)
    errors: list[FileError] = []
    extra = sorted(set(data) - {TABLE})
    for key in extra:
        line = next((i + 1 for i, text in enumerate(where.lines) if re.match(rf"^\s*\[*\s*{re.escape(key)}\b", text)), 1)
        errors.append(FileError(line, key, f"unknown table or key; expected [[{TABLE}]] tables"))
    tables = data.get(TABLE, [])
    if not isinstance(tables, list) or not tables:
        errors.append(FileError(1, TABLE, f"no [[{TABLE}]] table found"))
        return [], errors
    rules = Territory(gazetteer)
    specs: list[CooperativeSpec] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        found = _one(index, table, where, errors, categories=categories, rules=rules)
        if found is None:
            continue
        if found.slug in seen:
            errors.append(
                FileError(where.key(index, "slug"), f"{TABLE}[{index + 1}].slug", f"{found.slug!r} is already used by {TABLE}[{seen[found.slug]}]")
            )
            continue
        seen[found.slug] = index + 1
        specs.append(found)
    return (specs if not errors else []), errors


def _one(
    index: int,
    table: Mapping[str, object],
    where: _Locator,
    errors: list[FileError],
    *,
    categories: Collection[str],
    rules: Territory,
) -> CooperativeSpec | None:
    """One table checked: the field-level rules are `conversations.coop_rules`, shared with the chat."""
    label = f"{TABLE}[{index + 1}]"
    before = len(errors)

    def err(key: str, message: str, value: object = None) -> None:
        line = where.value(index, key, value) if value is not None else where.key(index, key)
        errors.append(FileError(line, f"{label}.{key}", message))

    for key in sorted(set(table) - KEYS):
        err(key, f"unknown field; expected one of {', '.join(sorted(KEYS))}")

    def text(key: str, *, required: bool, default: str = "") -> str:
        value = table.get(key, None)
        if value is None:
            if required:
                errors.append(FileError(where.table(index), f"{label}.{key}", "missing"))
            return default
        if not isinstance(value, str) or not value.strip():
            err(key, "expected a non-empty string")
            return default
        return value.strip()

    def strings(key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            err(key, 'expected a list of strings, e.g. ["a", "b"]')
            return []
        return [v.strip() for v in value]

    slug = text("slug", required=True)
    if slug and not SLUG.match(slug):
        err("slug", "use 2-40 lower-case letters, digits and dashes, e.g. 'cantiere-ravenna'")
    name = text("name", required=True)
    if len(name) > 120:
        err("name", "at most 120 characters")
    language = text("language", required=False, default="it")
    if language not in LANGUAGES:
        err("language", f"expected one of {', '.join(LANGUAGES)} (got {language!r})")
    timezone = text("timezone", required=False, default="Europe/Rome")
    if (tz_problem := check_timezone(timezone)) is not None:
        err("timezone", tz_problem.message)
        timezone = "Europe/Rome"
    problems: list[Problem] = []
    digest = read_schedule(text("digest", required=False, default=DEFAULT_DIGEST))  # a cron, or "ogni lunedì alle 8"
    if isinstance(digest, Retry):
        problems.append(Problem("digest", "cron", "", _SCHEDULE_HELP))
        digest = DEFAULT_DIGEST
    active = table.get("active", True)
    if not isinstance(active, bool):
        err("active", "expected true or false")
        active = True
    cats = strings("categories")
    if "categories" in table and not cats:
        err("categories", "list at least one category")
    elif "categories" not in table:
        errors.append(FileError(where.table(index), f"{label}.categories", "missing"))
    problems += check_categories(cats, categories)
    places, territory_problems = rules.check(comuni=strings("comuni"), province=strings("province"), regioni=strings("regioni"))
    problems += territory_problems
    for problem in problems:
        err(problem.field, problem.message, problem.value if problem.field != "digest" else None)
    territory = [(TerritoryKind(k), c) for k, c in places]
    if not any(k in table for k in ("comuni", "province", "regioni")):
        errors.append(FileError(where.table(index), f"{label}.comuni", "no territory: list comuni, province or regioni"))
    if len(errors) > before:
        return None
    return CooperativeSpec(
        slug=slug,
        name=name,
        categories=tuple(dict.fromkeys(cats)),
        territory=tuple(dict.fromkeys(territory)),
        digest_cron=digest,
        timezone=timezone,
        language=language,
        is_active=bool(active),
    )


def read(path: Path, *, categories: Collection[str], gazetteer: Gazetteer) -> tuple[list[CooperativeSpec], list[str]]:
    """Parse a file; errors come back rendered as ``FILE:LINE: field: message``."""
    specs, errors = parse(path.read_text(encoding="utf-8"), categories=categories, gazetteer=gazetteer)
    return specs, [e.render(str(path)) for e in sorted(errors, key=lambda e: e.line)]
