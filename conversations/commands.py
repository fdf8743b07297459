"""Global commands, checked before the current step, and the assembled engine."""

from __future__ import annotations

from conversations import admin, optout, rights
from conversations import operator
from conversations.effects import RightsExercised
from conversations.engine import Builder, Engine
from conversations.flows import followup, intake, menu
from conversations.messages import Msg, Reply
from conversations.types import Context


def build_engine(known_msgids: set[str] | None = None) -> Engine:
    """The engine with every flow and command; `known_msgids` turns on catalog checks."""
    engine = Engine(
        {
            f.id: f
            for f in (
                menu.build(known_msgids),
                intake.build(known_msgids),
                followup.build_still_needed(known_msgids),
                followup.build_satisfaction(known_msgids),
                rights.build_erase(known_msgids),
                rights.build_language(known_msgids),
                admin.build_confirm(known_msgids),
                admin.build_broadcast(known_msgids),
                admin.build_category(known_msgids),
                admin.build_cooperative(known_msgids),
            )
        },
        home=menu.FLOW_ID,
        entry=intake.FLOW_ID,
    )

    @engine.command("start", "nuovo", "nuova", "inizia", "new")
    def _start(e: Engine, b: Builder, ctx: Context) -> None:
        if optout.wants_opt_in(b, ctx):
            optout.opt_in(e, b, ctx)
            return
        if b.state.is_active and b.state.flow_id == intake.FLOW_ID:
            b.replies.append(Reply(Msg("common.restarted")))
        e.start(b, intake.FLOW_ID, ctx)

    @engine.command(*optout.STOP_WORDS, allowed=optout.has_keywords)
    def _stop(e: Engine, b: Builder, ctx: Context) -> None:
        optout.opt_out(e, b, ctx)

    @engine.command("unstop", allowed=optout.has_keywords)
    def _unstop(e: Engine, b: Builder, ctx: Context) -> None:
        optout.opt_in(e, b, ctx)

    @engine.command("annulla", "cancel", "basta")
    def _cancel(e: Engine, b: Builder, ctx: Context) -> None:
        e.cancel(b, ctx)

    @engine.command("aiuto", "help", "info")
    def _help(e: Engine, b: Builder, ctx: Context) -> None:
        e.help(b, ctx)

    @engine.command("indietro", "back")
    def _back(e: Engine, b: Builder, ctx: Context) -> None:
        e.go_back(b, ctx)

    @engine.command("miei", "mie", "mine")
    def _mine(e: Engine, b: Builder, ctx: Context) -> None:
        b.effects.append(RightsExercised(right="accesso", at=ctx.now))
        e.inform(b, ctx, menu.my_needs(ctx))

    @engine.command("privacy")
    def _privacy(e: Engine, b: Builder, ctx: Context) -> None:
        b.effects.append(RightsExercised(right="informazione", at=ctx.now))
        e.inform(b, ctx, menu.privacy_notice(ctx))

    operator.register(engine)
    rights.register(engine)
    admin.register(engine)
    return engine
