"""Flows are checked when they load; each broken flow fails with its own message."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conversations import Flow, FlowError, Translator
from conversations.flows import intake, menu
from tests.conversations.broken.flows import EXPECTED


@pytest.mark.parametrize(("build", "message"), list(EXPECTED.items()), ids=[f.__name__ for f in EXPECTED])
def test_broken_flow_fails_with_its_own_message(build: Callable[[], Flow], message: str) -> None:
    with pytest.raises(FlowError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_shipped_flows_use_only_catalogued_messages(translator: Translator) -> None:
    known = set(translator.msgids)
    intake.build(known)
    menu.build(known)
