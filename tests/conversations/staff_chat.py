"""Chats with staff: what `bot/reads` would have loaded for a command is put in `ctx.staff` by hand."""

from __future__ import annotations

from dataclasses import replace

from conversations import (
    CategoryEntry,
    Context,
    CooperativeDetail,
    CooperativeEntry,
    Engine,
    Msg,
    OperatorEntry,
    Role,
    Staff,
)
from tests.helpers.transcript import Chat

ADMIN = Staff(role=Role.ADMIN)
OPERATOR = Staff(role=Role.OPERATOR, cooperative_id=1)
CITIZEN = Staff()

CANTIERE = CooperativeEntry(1, "cantiere", "Il Cantiere", True, operators=2)
CHIUSA = CooperativeEntry(2, "chiusa", "La Chiusa", False)
COOPS = (CANTIERE, CHIUSA)
CANTIERE_DETAIL = CooperativeDetail(
    1,
    "cantiere",
    "Il Cantiere",
    True,
    territory=(("comune", "039014"), ("provincia", "FC")),
    categories=("spesa", "salute"),
    operators=2,
)
OPERATORS = (
    OperatorEntry(3, "Il Cantiere", "telegram", "42", True),
    OperatorEntry(4, "Il Cantiere", "whatsapp", "+393330000004", False),
)
CATEGORIES = (
    CategoryEntry("spesa", "Spesa", "Groceries", 1, True),
    CategoryEntry("salute", "Salute", "Health", 2, True),
    CategoryEntry("vecchia", "Vecchia", "Old", 0, False),
)


def staff_chat(engine: Engine, ctx: Context, staff: Staff = ADMIN, *, channel: str = "test", **loaded: object) -> Chat:
    """A chat with `staff` (an admin by default) whose next command finds `loaded` in `ctx.staff`."""
    return Chat(engine, replace(ctx, staff=replace(staff, **loaded)), channel=channel)


def load(chat: Chat, **loaded: object) -> None:
    """What the reader loads for the next turn (each turn reads afresh)."""
    chat.ctx = replace(chat.ctx, staff=replace(chat.ctx.staff, **loaded))


def summary(chat: Chat) -> Msg:
    """The summary inside the last "Stai per fare questo: … Confermi?" question."""
    inner = chat.bot_asks("admin.confirm", options=["si", "no"]).text.params["summary"]
    assert isinstance(inner, Msg)
    return inner
