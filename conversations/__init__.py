"""The channel-neutral core: messages, the pure engine, the flows and their texts."""

from __future__ import annotations

from conversations.commands import build_engine
from conversations.comuni import Comune, ComuneLookup, Gazetteer
from conversations.effects import (
    ConsentGiven,
    ConsentRefused,
    ConversationCancelled,
    ConversationExpired,
    Effect,
    HelpOffered,
    NeedCreated,
)
from conversations.engine import Engine, command_name, match_option
from conversations.flow import Flow, FlowError, Step
from conversations.i18n import Rendered, RenderedOption, Translator, compile_catalogs
from conversations.messages import Inbound, Location, Media, MediaKind, Msg, Option, Reply
from conversations.ticket import make_ticket, normalize_ticket
from conversations.types import Answer, Category, Context, NeedSummary, Outcome, Retry, State, Turn

__all__ = [
    "Answer",
    "Category",
    "Comune",
    "ComuneLookup",
    "ConsentGiven",
    "ConsentRefused",
    "Context",
    "ConversationCancelled",
    "ConversationExpired",
    "Effect",
    "Engine",
    "Flow",
    "FlowError",
    "Gazetteer",
    "HelpOffered",
    "Inbound",
    "Location",
    "Media",
    "MediaKind",
    "Msg",
    "NeedCreated",
    "NeedSummary",
    "Option",
    "Outcome",
    "Rendered",
    "RenderedOption",
    "Reply",
    "Retry",
    "State",
    "Step",
    "Translator",
    "Turn",
    "build_engine",
    "command_name",
    "compile_catalogs",
    "make_ticket",
    "match_option",
    "normalize_ticket",
]
