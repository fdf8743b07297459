"""A command defined once: its names, who may use it, its word rule, what it reads and its handler.

`bot/` learns everything it needs about a command from its `CommandSpec`: which data to load
(`reads`), and whether the sender's role must be looked up (`who`). The engine recognises a
message as a command once (`Engine.recognise` → `Call`) and the pipeline passes that `Call` on,
as python-telegram-bot passes `check_update`'s result to `handle_update`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conversations.messages import Inbound
from conversations.vocabulary import Role
from conversations.types import Context


class Who(StrEnum):
    """Who may use a command; anyone else gets what an unknown command gets."""

    ANYONE = "anyone"
    OPERATOR = "operator"
    """An enrolled, active operator (`ctx.desk.operator`)."""
    STAFF = "staff"
    """An operator or an admin (`/esporta`, limited to the operator's cooperative)."""
    ADMIN = "admin"

    @property
    def needs_role(self) -> bool:
        """Whether the pipeline must look the sender up before the step."""
        return self != Who.ANYONE

    def admits(self, ctx: Context) -> bool:
        if self == Who.ANYONE:
            return True
        if self == Who.OPERATOR:
            return ctx.desk.operator is not None
        if self == Who.STAFF:
            return ctx.staff.role in {Role.ADMIN, Role.OPERATOR}
        return ctx.staff.is_admin


class Reads(StrEnum):
    """Data a command (or a staff flow) needs before the pure step runs; `bot/reads` loads each one."""

    STATS = "stats"
    """`/statistiche PERIOD`: aggregates of the period its arguments name."""
    SYSTEM = "system"
    AUDIT = "audit"
    """The audit tail, as long as the first argument asks."""
    OPERATORS = "operators"
    CATEGORIES = "categories"
    """Every category, disabled ones too."""
    COOPERATIVES = "cooperatives"
    COOPERATIVE = "cooperative"
    """The cooperative named by the first argument, in full."""
    AUDIENCE = "audience"
    """How many citizens the announcement being prepared would reach."""
    INVITE = "invite"
    """The invite whose code the arguments give."""
    NEED_LIST = "need_list"
    """The page of open needs the first argument asks for."""
    NEED = "need"
    """The need whose ticket the arguments give, if this operator may see it."""
    NEED_HISTORY = "need_history"
    """…with its status history."""
    NEED_PHONE = "need_phone"
    """…with the phone even before the need is ours: the reply to a winning claim."""
    ANY_NEED = "any_need"
    """The need whose ticket the arguments give, whoever holds it (admins: `/assegna`)."""
    TARGET = "target_cooperative"
    """The cooperative named after the ticket, and what it had of that need (read after the need)."""
    COVERAGE = "coverage"
    """Whether an active cooperative covers the comune and category of the need being confirmed."""


Handler = Callable[[Any, Any, Context], None]
"""``handler(engine, builder, ctx)``: typed where each handler is defined (``e: Engine, b: Builder``);
spelt with Any here because the engine imports this module, and this one must not import it back."""
Guard = Callable[[Inbound, Context], bool]
"""An extra condition besides `who` (STOP words only where the channel has keywords)."""
ArgsCheck = Callable[[tuple[str, ...], Context], bool]
"""Whether the words after a plain command word are really its arguments ("2026-11" for `esporta`)."""
ArgsParser = Callable[[str], object]
"""Turns the text after the command's name into the structure its handler reads (once per message)."""


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """How a command appears in a channel's command menu (Telegram's, next to the text box)."""

    description: str
    """Msgid of the one-line description."""
    italian: str
    english: str


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command, whole: e.g. ``CommandSpec("audit", handler=_audit, who=Who.ADMIN, reads=frozenset({Reads.AUDIT}))``."""

    name: str
    """The canonical name, shown in help and written to the audit log."""
    handler: Handler
    aliases: tuple[str, ...] = ()
    """Other names that call it (English, short forms)."""
    who: Who = Who.ANYONE
    when: Guard | None = None
    words: ArgsCheck | None = None
    """On word channels (WhatsApp) the plain word followed by arguments this check accepts is the
    command too, except while the conversation waits for the sender's own words."""
    alone: bool = True
    """False: the plain word by itself is not the command (it is also an everyday word, like "stato")."""
    reads: frozenset[Reads] = frozenset()
    parse: ArgsParser | None = None
    usage: str | None = None
    """Msgid of the usage text shown when the arguments do not check out."""
    menu: MenuEntry | None = None
    """Shown in the command menu under these names (each must be one of `names`)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def admits(self, inbound: Inbound, ctx: Context) -> bool:
        return self.who.admits(ctx) and (self.when is None or self.when(inbound, ctx))


@dataclass(frozen=True, slots=True)
class Call:
    """A message recognised as a command, once: ``/stato K7M-R4P risolta`` → spec "stato", args ("K7M-R4P", "risolta")."""

    spec: CommandSpec
    args: tuple[str, ...] = ()
    """The words after the name."""
    rest: str = ""
    """The text after the name, as written (cleaned)."""
    explicit: bool = False
    """A "/" or a button: not a plain word that happens to be a command."""
    parsed: object = None
    """What `spec.parse` made of `rest`, if the spec has a parser."""
    phrase: bool = False
    """Said in words, not with the command's name ("torna indietro" for /indietro)."""
    anywhere: bool = False
    """A phrase understood at free-text questions too (go back, help, stop)."""
    at_first_contact: bool = True
    """False for a phrase in English: a first message in another language gets the language offer."""

    @property
    def name(self) -> str:
        return self.spec.name
