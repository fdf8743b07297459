"""The cooperative rules shared by the chat and the import file: time zones."""

from __future__ import annotations

import pytest

from conversations.coop_rules import check_timezone, timezone_named


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        pytest.param("Europe/Rome", "Europe/Rome", id="exact"),
        pytest.param("  europe/rome ", "Europe/Rome", id="spelling-restored"),
        pytest.param("AMERICA/SAO_PAULO", "America/Sao_Paulo", id="upper-case"),
        pytest.param("UTC", "UTC", id="utc"),
        pytest.param("Marte/Olympus", None, id="unknown"),
        pytest.param("../../etc/passwd", None, id="a-path-is-no-zone"),
        pytest.param("", None, id="empty"),
        pytest.param("Europe/" + "x" * 60, None, id="too-long"),
    ],
)
def test_timezone_named(typed: str, zone: str | None) -> None:
    assert timezone_named(typed) == zone


def test_the_import_file_must_spell_the_zone_exactly() -> None:
    assert check_timezone("Europe/Rome") is None
    problem = check_timezone("europe/rome")
    assert problem is not None and problem.field == "timezone"
