"""The catalogs are complete: every message the code uses exists, in Italian and English, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conversations.i18n import catalog_path, placeholders, po_messages

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
SOURCES = [p for d in ("conversations", "handlers", "bot") for p in (ROOT / d).rglob("*.py")]
MSGID = re.compile(r"""Msg\(\s*f?["']([a-z_]+\.[a-z_.{}]+)["']|(?:retry|help|msgid)=["']([a-z_]+\.[a-z_]+)["']|Retry\(\s*["']([a-z_]+\.[a-z_]+)["']""")


def _used_msgids() -> set[str]:
    used = set()
    for path in SOURCES:
        for match in MSGID.finditer(path.read_text(encoding="utf-8")):
            used.add(next(g for g in match.groups() if g))
    return used


def _expand(msgid: str, known: set[str]) -> set[str]:
    """`f"urgency.{x}"` stands for every catalogued msgid with that prefix."""
    if "{" not in msgid:
        return {msgid}
    prefix = msgid.split("{", 1)[0]
    found = {k for k in known if k.startswith(prefix)}
    assert found, f"no catalogued message starts with {prefix!r}"
    return found


ITALIAN = po_messages(catalog_path(LOCALES, "it"))


def test_code_uses_only_catalogued_messages() -> None:
    used = set().union(*(_expand(m, set(ITALIAN)) for m in _used_msgids()))
    assert len(used) > 40
    missing = sorted(used - set(ITALIAN))
    assert not missing, f"msgids used in code but missing from it.po: {missing}"


@pytest.mark.parametrize("lang", ["en"])
def test_translation_is_complete_with_the_same_placeholders(lang: str) -> None:
    other = po_messages(catalog_path(LOCALES, lang))
    assert set(other) == set(ITALIAN), set(other) ^ set(ITALIAN)
    empty = [k for k, v in other.items() if not v.strip()]
    assert not empty, f"untranslated in {lang}: {empty}"
    differ = [k for k in ITALIAN if placeholders(ITALIAN[k]) != placeholders(other[k])]
    assert not differ, f"placeholders differ in {lang}: {differ}"


def test_every_italian_message_has_text() -> None:
    assert all(v.strip() for v in ITALIAN.values())


def test_status_and_urgency_values_have_messages() -> None:
    from conversations import NeedStatus, Urgency

    for status in NeedStatus:
        assert f"status.{status}" in ITALIAN
    for urgency in Urgency:
        assert f"urgency.{urgency}" in ITALIAN
