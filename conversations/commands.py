"""The global commands, each one spec, and the assembled engine."""

from __future__ import annotations

from typing import Final

from conversations import admin, handover, operator, optout, rights, thread
from conversations.command import CommandSpec, MenuEntry
from conversations.effects import RightsExercised
from conversations.engine import Builder, Engine
from conversations.flows import followup, intake, menu, request
from conversations.messages import Msg, Reply
from conversations.ticket import is_ticket, normalize_ticket
from conversations.types import Context


def _start(e: Engine, b: Builder, ctx: Context) -> None:
    if optout.wants_opt_in(b, ctx):
        optout.opt_in(e, b, ctx)
        return
    if b.state.is_active and b.state.flow_id == intake.FLOW_ID:
        b.replies.append(Reply(Msg("common.restarted")))
    e.start(b, intake.FLOW_ID, ctx)


def _stop(e: Engine, b: Builder, ctx: Context) -> None:
    optout.opt_out(e, b, ctx)


def _unstop(e: Engine, b: Builder, ctx: Context) -> None:
    optout.opt_in(e, b, ctx)


def _cancel(e: Engine, b: Builder, ctx: Context) -> None:
    e.cancel(b, ctx)


def _help(e: Engine, b: Builder, ctx: Context) -> None:
    e.help(b, ctx)


def _back(e: Engine, b: Builder, ctx: Context) -> None:
    e.go_back(b, ctx)


def _mine(e: Engine, b: Builder, ctx: Context) -> None:
    b.effects.append(RightsExercised(right="accesso", at=ctx.now))
    request.mine(e, b, ctx)


def _ticket(e: Engine, b: Builder, ctx: Context) -> None:
    """A ticket code typed on its own: that request and what can be done with it, if it is one of the citizen's."""
    request.show_need(e, b, ctx, normalize_ticket(" ".join(b.call.args) if b.call is not None else ""))


def _privacy(e: Engine, b: Builder, ctx: Context) -> None:
    b.effects.append(RightsExercised(right="informazione", at=ctx.now))
    e.inform(b, ctx, menu.privacy_notice(ctx))


SPECS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec(
        "start", _start, aliases=("nuovo", "nuova", "inizia", "new"), menu=MenuEntry("telegram.command_new", "nuovo", "new")
    ),
    CommandSpec("miei", _mine, aliases=("mie", "mine"), menu=MenuEntry("telegram.command_mine", "miei", "mine")),
    CommandSpec("indietro", _back, aliases=("back",), menu=MenuEntry("telegram.command_back", "indietro", "back")),
    CommandSpec("annulla", _cancel, aliases=("cancel", "basta"), menu=MenuEntry("telegram.command_cancel", "annulla", "cancel")),
    CommandSpec("aiuto", _help, aliases=("help", "info"), menu=MenuEntry("telegram.command_help", "aiuto", "help")),
    CommandSpec("privacy", _privacy, menu=MenuEntry("telegram.command_privacy", "privacy", "privacy")),
    CommandSpec(optout.STOP_WORDS[0], _stop, aliases=optout.STOP_WORDS[1:], when=optout.has_keywords),
    CommandSpec("unstop", _unstop, when=optout.has_keywords),
    CommandSpec("codice", _ticket, aliases=("code",), alone=False, words=lambda args, ctx: is_ticket(" ".join(args))),
)
"""Commands every citizen has, at any question (like PTB's fallbacks); the first six make Telegram's menu."""


def build_engine(known_msgids: set[str] | None = None) -> Engine:
    """The engine with every flow and command; `known_msgids` turns on catalog checks."""
    return Engine(
        {
            f.id: f
            for f in (
                menu.build(known_msgids),
                intake.build(known_msgids),
                followup.build_still_needed(known_msgids),
                followup.build_satisfaction(known_msgids),
                rights.build_erase(known_msgids),
                rights.build_language(known_msgids),
                rights.build_language_offer(known_msgids),
                admin.build_confirm(known_msgids),
                admin.build_broadcast(known_msgids),
                admin.build_category(known_msgids),
                admin.build_cooperative(known_msgids),
                *request.build(known_msgids),
            )
        },
        home=menu.FLOW_ID,
        entry=intake.FLOW_ID,
        commands=(*SPECS, *operator.SPECS, *handover.SPECS, *thread.SPECS, *rights.SPECS, *admin.SPECS),
        opening=menu.opening,
        aside=thread.aside,
        phrases=thread.withdraw_words,
    )
