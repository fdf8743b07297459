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
from conversations.types import Context, Desk, NeedView, OperatorView
from conversations.vocabulary import NeedStatus

ENROL: Final = "operatore"

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
    ticket, used = _take_ticket(tokens)
    remaining = tokens[used:]
    if name == "stato":
        status_words, note_start = _take_status(remaining)
        return OperatorCommand(name, code=ticket, arg=status_words, rest=" ".join(remaining[note_start:]))
    return OperatorCommand(name, code=ticket, rest=" ".join(remaining))


def _take_ticket(tokens: list[str]) -> tuple[str, int]:
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


def claim_options(ticket: str) -> tuple[Option, ...]:
    """The buttons under a routed need; their payloads are commands, so they work from any chat state."""
    return (
        Option(f"/prendo {ticket}", Msg("op.option_claim")),
        Option(f"/declino {ticket}", Msg("op.option_decline")),
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


def _list(e: Engine, b: Builder, ctx: Context) -> None:
    desk = ctx.desk
    assert desk.operator is not None
    if desk.open_total == 0:
        _say(e, b, ctx, "op.needs_none", cooperative=desk.operator.cooperative_name)
        return
    pages = max(1, ceil(desk.open_total / desk.page_size))
    items = tuple(_list_item(n) for n in desk.open_needs)
    more: object = Msg("op.needs_more", {"next": desk.page + 1}) if desk.page < pages else ""
    _say(
        e,
        b,
        ctx,
        "op.needs_page",
        cooperative=desk.operator.cooperative_name,
        total=desk.open_total,
        page=desk.page,
        pages=pages,
        items=items,
        more=more,
    )


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
    history: object = tuple(
        Msg(
            "op.history_item",
            {
                "date": h.at,
                "status": Msg("op.history_note_label") if h.status == "nota" else Msg(f"status.{h.status}"),
                "note": Msg("op.history_note", {"note": h.note}) if h.note else "",
            },
        )
        for h in need.history
    )
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
    )
    e.inform(b, ctx, reply)


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
    _say(e, b, ctx, "op.claim_ok", ticket=need.ticket, description=need.description, contact=phone)


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
