"""WhatsApp-style STOP/START keywords: the citizen stops (or resumes) messages we start ourselves."""

from __future__ import annotations

from typing import Final

from conversations.channels import traits_of
from conversations.effects import ConversationCancelled, OptedIn, OptedOut
from conversations.engine import Builder, Engine, command_name
from conversations.messages import Inbound, Msg, Reply
from conversations.types import Context

STOP_WORDS: Final = ("stop", "stopall", "unsubscribe")
START_WORDS: Final = ("start", "unstop")


def has_keywords(inbound: Inbound, ctx: Context) -> bool:
    """Whether a bare STOP/START is a keyword on this channel (the `stop_keywords` trait)."""
    return traits_of(inbound.channel).stop_keywords


def wants_opt_in(b: Builder, ctx: Context) -> bool:
    """START from an opted-out WhatsApp citizen opts in; from anyone else it starts the intake."""
    inbound = b.inbound
    if inbound is None or not ctx.is_opted_out or not has_keywords(inbound, ctx):
        return False
    return command_name(inbound.text or "") in START_WORDS


def opt_out(e: Engine, b: Builder, ctx: Context) -> None:
    s = b.state
    if s.is_active and s.flow_id != e.home:
        b.effects.append(ConversationCancelled(flow_id=s.flow_id or "", step_id=s.step_id or ""))
    b.effects.append(OptedOut(at=ctx.now))
    b.replies.append(Reply(Msg("optout.confirmed")))
    e.finish(b)


def opt_in(e: Engine, b: Builder, ctx: Context) -> None:
    if ctx.is_opted_out:
        b.effects.append(OptedIn(at=ctx.now))
        b.replies.append(Reply(Msg("optout.resumed")))
    e.start(b, e.home, ctx)
