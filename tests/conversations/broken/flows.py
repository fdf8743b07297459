"""One broken flow definition per function; `test_flow_validation` builds each."""

from __future__ import annotations

from conversations.flow import Flow, Step
from conversations.messages import Msg
from conversations.types import Outcome


def _end(answers: object, ctx: object) -> Outcome:
    return Outcome()


def no_steps() -> Flow:
    return Flow.build("empty", 1, [], endings={})


def unknown_next() -> Flow:
    return Flow.build("f", 1, [Step("a", prompt=Msg("menu.ask"), next="nowhere", help="menu.help")], endings={})


def duplicate_step() -> Flow:
    step = Step("a", prompt=Msg("menu.ask"), next="end", help="menu.help")
    return Flow.build("f", 1, [step, step], endings={"end": _end})


def unreachable_step() -> Flow:
    return Flow.build(
        "f",
        1,
        [
            Step("a", prompt=Msg("menu.ask"), next="end", help="menu.help"),
            Step("island", prompt=Msg("menu.ask"), next="end", help="menu.help"),
        ],
        endings={"end": _end},
    )


def undeclared_targets() -> Flow:
    return Flow.build(
        "f", 1, [Step("a", prompt=Msg("menu.ask"), next=lambda v, a: "end", help="menu.help")], endings={"end": _end}
    )


def missing_msgid() -> Flow:
    return Flow.build(
        "f",
        1,
        [Step("a", prompt=Msg("no.such.message"), next="end", help="menu.help")],
        endings={"end": _end},
        known_msgids={"menu.help"},
    )


def step_named_like_an_ending() -> Flow:
    return Flow.build(
        "f", 1, [Step("end", prompt=Msg("menu.ask"), next="end", help="menu.help")], endings={"end": _end}
    )


EXPECTED = {
    no_steps: "has no steps",
    unknown_next: "goes to unknown step 'nowhere'",
    duplicate_step: "step 'a' is defined twice",
    unreachable_step: "unreachable step(s) island",
    undeclared_targets: "declares no targets",
    missing_msgid: "msgid 'no.such.message' missing from the catalog",
    step_named_like_an_ending: "has the name of an ending",
}
