"""Operator commands (enrol, list, detail, claim, decline, status, note): parsed and answered by pure code."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Final

from conversations._text import clean, fold, small_int
from conversations.effects import InviteRefused, NeedClaimed, NeedDeclined, NoteAdded, OperatorEnrolled, StatusChanged
from conversations.command import ArgsCheck, CommandSpec, Handler, Reads, Who
from conversations.engine import Builder, Engine
from conversations.messages import Inbound, Msg, Option, Reply
from conversations.ticket import compact_code, normalize_ticket
from conversations.types import Context, Desk, HistoryItem, NeedView, OperatorView, ThreadItem
from conversations.vocabulary import NeedStatus

ENROL: Final = "operatore"
HISTORY_TRANSFER: Final = "trasferita"
"""The history line of a transfer: the need went to `HistoryItem.cooperative`."""

MAX_NOTE_CHARS: Final = 1000
MAX_PAGE: Final = 9_999
"""The last page `/richieste N` may ask for."""
TRANSITIONS: Final = {
    NeedStatus.CLAIMED: frozenset({NeedStatus.IN_PROGRESS, NeedStatus.RESOLVED, NeedStatus.CLOSED}),
    NeedStatus.IN_PROGRESS: frozenset({NeedStatus.RESOLVED, NeedStatus.CLOSED}),
    NeedStatus.RESOLVED: frozenset({NeedStatus.IN_PROGRESS, NeedStatus.CLOSED}),
    NeedStatus.CLOSED: frozenset[NeedStatus](),
}
"""Where an operator may move a need from each status; a need must be claimed first."""
STATUSES: Final = frozenset(s for targets in TRANSITIONS.values() for s in targets)
STATUS_WORDS: Final = {
    "in corso": NeedStatus.IN_PROGRESS,
    "incorso": NeedStatus.IN_PROGRESS,
    "corso": NeedStatus.IN_PROGRESS,
    "risolta": NeedStatus.RESOLVED,
    "risolto": NeedStatus.RESOLVED,
    "chiusa": NeedStatus.CLOSED,
    "chiuso": NeedStatus.CLOSED,
}
"""What an operator may type after the ticket of `/stato`, folded, and the status it means."""


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """``/stato K7M-R4P risolta consegnata la spesa`` -> name="stato", code="K7M-R4P", arg="risolta", rest="consegnata la spesa"."""

    name: str
    code: str = ""
    arg: str = ""
    rest: str = ""


def _with_arguments(name: str, rest: str) -> OperatorCommand:
    if name == ENROL:
        return OperatorCommand(name, code=compact_code(rest))
    if name == "richieste":
        return OperatorCommand(name, arg=rest.split()[0] if rest.split() else "")
    tokens = rest.split()
    ticket, used = take_ticket(tokens)
    remaining = tokens[used:]
    if name == "stato":
        status_words, note_start = _take_status(remaining)
        return OperatorCommand(name, code=ticket, arg=status_words, rest=" ".join(remaining[note_start:]))
    return OperatorCommand(name, code=ticket, rest=" ".join(remaining))


parse_arguments: Final = _with_arguments
"""``parse_arguments("scrivi", "K7M-R4P a domani")`` → code "K7M-R4P", rest "a domani" (`conversations/thread.py`)."""


def take_ticket(tokens: list[str]) -> tuple[str, int]:
    """A ticket typed as "K7M-R4P", "k7mr4p" or "K7M R4P"; returns it and how many tokens it used."""
    if not tokens:
        return "", 0
    first = "".join(ch for ch in tokens[0].upper() if ch.isalnum())
    if len(first) == 3 and len(tokens) > 1 and len("".join(ch for ch in tokens[1] if ch.isalnum())) == 3:
        return normalize_ticket(tokens[0] + tokens[1]), 2
    return normalize_ticket(tokens[0]), 1


def _take_status(tokens: list[str]) -> tuple[str, int]:
    if len(tokens) >= 2 and fold(" ".join(tokens[:2])) in STATUS_WORDS:
        return STATUS_WORDS[fold(" ".join(tokens[:2]))], 2
    if tokens:
        return STATUS_WORDS.get(fold(tokens[0]), fold(tokens[0])), 1
    return "", 0


def _words_for(name: str) -> ArgsCheck:
    """Plain words after a desk command are its arguments only when they name a need this
    operator may see ("stato K7M-R4P risolta"), so "stato di salute precario" stays text."""

    def check(args: tuple[str, ...], ctx: Context) -> bool:
        cmd = _with_arguments(name, " ".join(args))
        if name == ENROL:
            return ctx.desk.invite is not None and len(args) <= 2
        if name == "richieste":
            return len(args) == 1 and small_int(args[0], MAX_PAGE, minimum=1) is not None
        need = ctx.desk.need
        if need is None or need.ticket != cmd.code:
            return False
        if name == "stato":
            return cmd.arg in STATUSES
        if name == "nota":
            return bool(cmd.rest)
        return not cmd.rest

    return check


CLAIM_WORDS: Final = ("prendo in carico", "prendi in carico", "presa in carico", "la prendo", "prendiamo", "me ne occupo", "ce ne occupiamo", "claim", "take")
"""Typed instead of "1" under a routed need (the command's own name, "prendo", works too: `conversations.offered`)."""
DECLINE_WORDS: Final = (
    "non di nostra competenza", "non e di nostra competenza", "non e nostra competenza", "non ci compete",
    "non e per noi", "non possiamo", "rifiuto", "rifiutiamo", "decline",
)
"""Typed instead of "2" under a routed need."""


def claim_options(ticket: str) -> tuple[Option, ...]:
    """The buttons under a routed need; their payloads are commands, so they work from any chat state,
    and where there are no buttons the number or the words answer them (`conversations.offered`)."""
    return (
        Option(f"/prendo {ticket}", Msg("op.option_claim"), CLAIM_WORDS),
        Option(f"/declino {ticket}", Msg("op.option_decline"), DECLINE_WORDS),
    )


def _command(b: Builder) -> OperatorCommand:
    """The arguments as the spec's parser read them, once, when the engine recognised the command."""
    assert b.call is not None and isinstance(b.call.parsed, OperatorCommand)
    return b.call.parsed


def _say(e: Engine, b: Builder, ctx: Context, msgid: str, **params: object) -> None:
    e.inform(b, ctx, Reply(Msg(msgid, params)))


def _enrol(e: Engine, b: Builder, ctx: Context) -> None:
    cmd = _command(b)
    desk = ctx.desk
    if desk.operator is not None:
        _say(e, b, ctx, "op.already_enrolled", cooperative=desk.operator.cooperative_name)
        return
    if not cmd.code:
        _say(e, b, ctx, "op.usage_operatore")
        return
    invite, refusal = desk.invite, _refusal(desk, ctx)
    if refusal is not None or invite is None:
        reason, msgid = refusal or ("unknown", "op.unknown_code")
        b.effects.append(InviteRefused(reason=reason, at=ctx.now))  # counted per sender: a few an hour, then locked
        _say(e, b, ctx, msgid)
    else:
        b.effects.append(
            OperatorEnrolled(invite_code=invite.code, cooperative_id=invite.cooperative_id, role=invite.role, at=ctx.now)
        )
        _say(e, b, ctx, "op.enrolled", cooperative=invite.cooperative_name, commands=Msg("op.commands"))


def _refusal(desk: Desk, ctx: Context) -> tuple[str, str] | None:
    """Why this invite enrols nobody, as (audit reason, msgid); None when it is good."""
    if desk.invite_locked:  # too many wrong codes this hour: the code was not even looked up
        return "locked", "op.code_locked"
    if desk.invite is None:
        return "unknown", "op.unknown_code"
    if desk.invite.is_used:
        return "used", "op.code_used"
    if desk.invite.expires_at <= ctx.now:
        return "expired", "op.code_expired"
    return None


def asked_page(arg: str) -> int | None:
    """The page `/richieste ARG` asks for: "2" → 2; a number past `MAX_PAGE` → `MAX_PAGE` (the reader
    then shows the last page); None for no number, 0, "-1" or words (the first page is shown)."""
    if arg.isascii() and arg.isdigit() and small_int(arg, MAX_PAGE) is None:
        return MAX_PAGE
    return small_int(arg, MAX_PAGE, minimum=1)


def _page_note(arg: str, shown: int) -> Msg | None:
    """Why the page shown is not the one asked for ("/richieste 2" when there is one page), or None."""
    if not arg:
        return None
    asked = asked_page(arg)
    if asked == shown:
        return None
    if asked is not None:
        return Msg("op.page_beyond", {"asked": arg})
    if arg.isascii() and arg.isdigit():
        return Msg("op.page_from_one")
    return Msg("op.page_not_number", {"asked": arg[:20]})


def _list(e: Engine, b: Builder, ctx: Context) -> None:
    desk = ctx.desk
    assert desk.operator is not None
    if desk.open_total == 0:
        _say(e, b, ctx, "op.needs_none", cooperative=desk.operator.cooperative_name)
        return
    pages = max(1, ceil(desk.open_total / desk.page_size))
    items = tuple(_list_item(n) for n in desk.open_needs)
    more: object = Msg("op.needs_more", {"next": desk.page + 1}) if desk.page < pages else ""
    page = Msg(
        "op.needs_page",
        {
            "cooperative": desk.operator.cooperative_name,
            "total": desk.open_total,
            "page": desk.page,
            "pages": pages,
            "items": items,
            "more": more,
        },
    )
    note = _page_note(_command(b).arg, desk.page)
    e.inform(b, ctx, Reply(page if note is None else Msg("common.lead", {"lead": note, "text": page})))


def _list_item(n: NeedView) -> Msg:
    return Msg(
        "op.needs_item",
        {
            "ticket": n.ticket,
            "urgency": Msg(f"urgency.{n.urgency}"),
            "category": n.category_label,
            "comune": n.comune_name,
            "status": Msg(f"status.{n.status}"),
            "date": n.created_at,
        },
    )


def _visible_need(e: Engine, b: Builder, ctx: Context, cmd: OperatorCommand, usage: str) -> NeedView | None:
    if not cmd.code:
        _say(e, b, ctx, usage)
        return None
    need = ctx.desk.need  # loaded only when routed to, or claimed by, the operator's cooperative
    if need is None or need.ticket != cmd.code:
        _say(e, b, ctx, "op.no_such_need", ticket=cmd.code)
        return None
    return need


def _contact(need: NeedView) -> Msg:
    if not need.is_ours:
        return Msg("op.contact_hidden")
    if need.contact_phone:
        return Msg("op.contact_phone", {"phone": need.contact_phone})
    return Msg("op.contact_chat")


def _history_item(h: HistoryItem) -> Msg:
    """"• 3 dicembre 2026, 10:00 – in corso (operatore #4): chiamata la figlia"."""
    if h.status == "nota":
        label = Msg("op.history_note_label")
    elif h.status == HISTORY_TRANSFER:
        label = Msg("op.history_transferred", {"cooperative": h.cooperative or ""})
    else:
        label = Msg(f"status.{h.status}")
    return Msg(
        "op.history_item",
        {
            "date": h.at,
            "status": label,
            "by": Msg("op.history_by", {"operator": h.operator_id}) if h.operator_id is not None else "",
            "note": Msg("op.history_note", {"note": h.note}) if h.note else "",
        },
    )


def _rating(need: NeedView) -> tuple[Msg, ...]:
    """The citizen's score and comment at the end of the history, for the cooperative that holds it."""
    if need.satisfaction is None:
        return ()
    comment = Msg("op.history_note", {"note": need.satisfaction_comment}) if need.satisfaction_comment else ""
    return (Msg("op.history_rating", {"score": need.satisfaction, "comment": comment}),)

def _with_voice(need: NeedView) -> object:
    """The description, and under it the words of each voice note next to it (issue 16)."""
    if not need.voice_notes:
        return need.description
    notes = tuple(Msg("op.voice_note", {"text": t}) if t else Msg("op.voice_note_unheard") for t in need.voice_notes)
    return Msg("op.description_with_voice", {"description": need.description, "voice": notes})


def _detail(e: Engine, b: Builder, ctx: Context) -> None:
    cmd = _command(b)
    need = _visible_need(e, b, ctx, cmd, "op.usage_richiesta")
    if need is None:
        return
    history: object = (*(_history_item(h) for h in need.history), *_rating(need))
    if not need.is_ours:  # the loader reads none for them; never shown even if it did
        history = Msg("op.history_hidden")
    claimed: object = Msg("op.claimed_by", {"cooperative": need.claimed_by}) if need.claimed_by else ""
    reply = Reply(
        Msg(
            "op.need_detail",
            {
                "ticket": need.ticket,
                "category": need.category_label,
                "comune": need.comune_name,
                "urgency": Msg(f"urgency.{need.urgency}"),
                "status": Msg(f"status.{need.status}"),
                "claimed": claimed,
                "date": need.created_at,
                "description": _with_voice(need),
                "contact": _contact(need),
                "history": history,
            },
        ),
        options=claim_options(need.ticket) if need.status == NeedStatus.NEW else (),
        about=need.id,
    )
    e.inform(b, ctx, reply)
    if need.is_ours and need.thread:  # the loader reads it for the holding cooperative only
        items = tuple(_thread_item(m) for m in need.thread)
        b.replies.append(Reply(Msg("thread.op_thread", {"ticket": need.ticket, "items": items}), about=need.id))


def _thread_item(m: ThreadItem) -> Msg:
    return Msg("thread.op_thread_item", {"date": m.at, "who": Msg(f"thread.who_{m.direction}"), "text": m.text})


def _operator_and_need(
    e: Engine, b: Builder, ctx: Context, usage: str
) -> tuple[OperatorView, NeedView, OperatorCommand] | None:
    """The operator and the need their command names, or None once the usage/unknown reply is said."""
    cmd = _command(b)
    need = _visible_need(e, b, ctx, cmd, usage)
    if need is None:
        return None
    operator = ctx.desk.operator
    assert operator is not None  # the command guard admits operators only
    return operator, need, cmd


def _claim(e: Engine, b: Builder, ctx: Context) -> None:
    found = _operator_and_need(e, b, ctx, "op.usage_richiesta")
    if found is None:
        return
    operator, need, _ = found
    if need.status != NeedStatus.NEW:
        if need.is_ours:
            _say(e, b, ctx, "op.claim_already_ours", ticket=need.ticket)
        else:
            _say(e, b, ctx, "op.claim_taken", ticket=need.ticket, cooperative=need.claimed_by or "")
        return
    b.effects.append(
        NeedClaimed(
            need_id=need.id, ticket=need.ticket, operator_id=operator.id, cooperative_id=operator.cooperative_id, at=ctx.now
        )
    )
    phone = Msg("op.contact_phone", {"phone": need.contact_phone}) if need.contact_phone else Msg("op.contact_chat")
    claimed = Msg("op.claim_ok", {"ticket": need.ticket, "description": need.description, "contact": phone})
    e.inform(b, ctx, Reply(claimed, about=need.id))  # a Telegram reply to it writes to the citizen


def _decline(e: Engine, b: Builder, ctx: Context) -> None:
    found = _operator_and_need(e, b, ctx, "op.usage_richiesta")
    if found is None:
        return
    operator, need, _ = found
    if need.is_ours or not need.is_offered or need.status != NeedStatus.NEW:
        _say(e, b, ctx, "op.decline_too_late", ticket=need.ticket)
        return
    b.effects.append(
        NeedDeclined(
            need_id=need.id, ticket=need.ticket, operator_id=operator.id, cooperative_id=operator.cooperative_id, at=ctx.now
        )
    )
    _say(e, b, ctx, "op.declined", ticket=need.ticket, cooperative=operator.cooperative_name)


def _status(e: Engine, b: Builder, ctx: Context) -> None:
    found = _operator_and_need(e, b, ctx, "op.usage_stato")
    if found is None:
        return
    operator, need, cmd = found
    if need.status == NeedStatus.NEW:
        _say(e, b, ctx, "op.status_claim_first", ticket=need.ticket)
        return
    if not need.is_ours:
        _say(e, b, ctx, "op.status_not_ours", ticket=need.ticket)
        return
    if cmd.arg not in STATUSES:
        _say(e, b, ctx, "op.status_unknown", ticket=need.ticket)
        return
    target, current = NeedStatus(cmd.arg), NeedStatus(need.status)
    if target == current:
        _say(e, b, ctx, "op.status_same", ticket=need.ticket, status=Msg(f"status.{target}"))
        return
    if target not in TRANSITIONS.get(current, frozenset()):
        _say(
            e,
            b,
            ctx,
            "op.status_not_allowed",
            from_status=Msg(f"status.{need.status}"),
            to_status=Msg(f"status.{target}"),
        )
        return
    note = clean(cmd.rest)[:MAX_NOTE_CHARS] or None
    b.effects.append(
        StatusChanged(
            need_id=need.id,
            ticket=need.ticket,
            from_status=current,
            to_status=target,
            note=note,
            actor=f"operator:{operator.id}",
            at=ctx.now,
        )
    )
    _say(e, b, ctx, "op.status_changed", ticket=need.ticket, status=Msg(f"status.{target}"))


def _note(e: Engine, b: Builder, ctx: Context) -> None:
    cmd = _command(b)
    need = _visible_need(e, b, ctx, cmd, "op.usage_nota")
    if need is None:
        return
    operator = ctx.desk.operator
    assert operator is not None
    text = clean(cmd.rest)[:MAX_NOTE_CHARS]
    if not text:
        _say(e, b, ctx, "op.usage_nota")
        return
    if not need.is_ours:
        _say(e, b, ctx, "op.status_claim_first" if need.status == NeedStatus.NEW else "op.status_not_ours", ticket=need.ticket)
        return
    b.effects.append(NoteAdded(need_id=need.id, ticket=need.ticket, operator_id=operator.id, text=text, at=ctx.now))
    _say(e, b, ctx, "op.note_added", ticket=need.ticket)


def _desk(
    name: str, handler: Handler, *, reads: tuple[Reads, ...] = (Reads.NEED,), who: Who = Who.OPERATOR
) -> CommandSpec:
    """A desk command. Alone, its word needs the "/" or a button: "stato" and "richiesta" are also
    words of the home menu, and "operatore" is what a citizen types to ask for a person."""
    return CommandSpec(
        name,
        handler,
        who=who,
        alone=False,
        words=_words_for(name),
        reads=frozenset(reads),
        parse=lambda rest: _with_arguments(name, rest),
    )


SPECS: Final[tuple[CommandSpec, ...]] = (
    _desk(ENROL, _enrol, reads=(Reads.INVITE,), who=Who.ANYONE),
    _desk("richieste", _list, reads=(Reads.NEED_LIST,)),
    _desk("richiesta", _detail, reads=(Reads.NEED, Reads.NEED_HISTORY)),
    _desk("prendo", _claim, reads=(Reads.NEED, Reads.NEED_PHONE)),
    _desk("declino", _decline),
    _desk("stato", _status),
    _desk("nota", _note),
)
"""The operator's commands; everyone may try `/operatore CODE`, the rest need an enrolled operator."""
