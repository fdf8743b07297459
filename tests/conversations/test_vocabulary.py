"""The domain's words: their values are what the database holds, so they are pinned here."""

from __future__ import annotations

from enum import StrEnum

import pytest

from conversations import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    AssignmentStatus,
    ContactMethod,
    FollowUpKind,
    NeedStatus,
    OperatorRole,
    Role,
    TerritoryKind,
    Urgency,
)
from conversations.operator import STATUS_WORDS, TRANSITIONS

STORED: dict[type[StrEnum], list[str]] = {
    NeedStatus: ["nuova", "presa_in_carico", "in_corso", "risolta", "chiusa"],
    AssignmentStatus: ["inviata", "rifiutata", "trasferita"],
    FollowUpKind: ["ancora_attuale", "soddisfazione", "promemoria", "segnalazione_admin"],
    TerritoryKind: ["comune", "provincia", "regione"],
    Role: ["citizen", "operator", "admin"],
    OperatorRole: ["operatore", "coordinatore"],
    Urgency: ["alta", "media", "bassa"],
    ContactMethod: ["chat", "telefono"],
}
"""Renaming one of these is a data migration, not a refactoring."""


@pytest.mark.parametrize("enum", list(STORED), ids=lambda e: e.__name__)
def test_values_are_the_stored_strings_without_aliases(enum: type[StrEnum]) -> None:
    assert [m.value for m in enum] == STORED[enum]
    assert len(enum.__members__) == len(enum)


def test_every_status_is_open_or_ended() -> None:
    assert set(OPEN_STATUSES) | set(ENDED_STATUSES) == set(NeedStatus)
    assert not set(OPEN_STATUSES) & set(ENDED_STATUSES)


def test_operators_move_claimed_needs_only_between_known_statuses() -> None:
    assert set(TRANSITIONS) == set(NeedStatus) - {NeedStatus.NEW}
    assert all(NeedStatus.NEW not in targets for targets in TRANSITIONS.values())
    assert set(STATUS_WORDS.values()) == {NeedStatus.IN_PROGRESS, NeedStatus.RESOLVED, NeedStatus.CLOSED}
