"""Who holds a need, as transcripts: an admin's /assegna, the holder's /riapri and /trasferisci, the
honest word at submission, and "non si è risolta" at the satisfaction question."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import (
    Context,
    Desk,
    Engine,
    HistoryItem,
    Msg,
    NeedAssigned,
    NeedCreated,
    NeedReopened,
    NeedTransferred,
    Role,
    SatisfactionGiven,
    Staff,
    State,
    TargetView,
)
from conversations.flows import followup
from tests.conversations.test_operator import NEED, OP
from tests.helpers.clock import START
from tests.helpers.transcript import Chat

OURS = replace(NEED, status="in_corso", is_ours=True, is_offered=False, claimed_by="Il Cantiere")
RETE = TargetView(id=2, slug="rete", name="Rete Romagna", is_active=True, operators=2)
ADMIN = Staff(role=Role.ADMIN)


def desk(engine: Engine, ctx: Context, *, channel: str = "test", **loaded: object) -> Chat:
    """An operator of Il Cantiere whose next command finds `loaded` on the desk."""
    return Chat(engine, replace(ctx, desk=Desk(**{"operator": OP, **loaded})), channel=channel)


def admin(engine: Engine, ctx: Context, **loaded: object) -> Chat:
    return Chat(engine, replace(ctx, staff=ADMIN, desk=Desk(**loaded)))


# --- /riapri -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["risolta", "chiusa"])
def test_the_holder_reopens_a_need_it_ended_with_a_note(engine: Engine, ctx: Context, status: str) -> None:
    chat = desk(engine, ctx, need=replace(OURS, status=status))
    chat.citizen("/riapri K7M-R4P la signora ha richiamato")
    chat.bot_says("op.reopened", ticket="K7M-R4P")
    assert chat.effects() == [
        NeedReopened(
            need_id="n1", ticket="K7M-R4P", from_status=status, operator_id=3, note="la signora ha richiamato", at=START
        )
    ]


@pytest.mark.parametrize(
    ("need", "said"),
    [
        (replace(OURS, status="in_corso"), "op.reopen_open"),
        (replace(OURS, status="presa_in_carico"), "op.reopen_open"),
        (replace(OURS, status="chiusa", is_erased=True), "op.reopen_erased"),
        (replace(OURS, status="chiusa", is_withdrawn=True), "op.reopen_withdrawn"),
        (replace(NEED, status="risolta", claimed_by="La Rete"), "op.status_not_ours"),
        (NEED, "op.status_claim_first"),
        (None, "op.no_such_need"),
    ],
    ids=["still-open", "just-claimed", "erased", "withdrawn", "another-cooperative", "not-claimed", "unknown"],
)
def test_reopening_is_refused_kindly(engine: Engine, ctx: Context, need: object, said: str) -> None:
    chat = desk(engine, ctx, need=need)
    chat.citizen("/riapri K7M-R4P")
    assert chat.said() == [said]
    assert chat.effects() == []


def test_riapri_without_a_code_says_how(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=OURS)
    chat.citizen("/riapri")
    assert chat.said() == ["op.usage_riapri"]


# --- /trasferisci --------------------------------------------------------------------------------


def test_the_holder_passes_a_need_on_with_a_reason(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=OURS, target=RETE)
    chat.citizen("/trasferisci K7M-R4P rete serve un educatore a Cervia")
    chat.bot_says("op.transferred", ticket="K7M-R4P", cooperative="Rete Romagna")
    assert chat.effects() == [
        NeedTransferred(
            need_id="n1",
            ticket="K7M-R4P",
            from_cooperative_id=1,
            to_cooperative_id=2,
            operator_id=3,
            reason="serve un educatore a Cervia",
            at=START,
        )
    ]


@pytest.mark.parametrize(
    ("text", "loaded", "said"),
    [
        ("/trasferisci K7M-R4P rete", {"need": OURS, "target": RETE}, "op.transfer_reason"),
        ("/trasferisci K7M-R4P", {"need": OURS}, "op.usage_trasferisci"),
        ("/trasferisci K7M-R4P atlantide perché sì", {"need": OURS}, "op.unknown_cooperative"),
        ("/trasferisci K7M-R4P rete motivo", {"need": OURS, "target": replace(RETE, is_active=False)}, "op.unknown_cooperative"),
        ("/trasferisci K7M-R4P cantiere motivo", {"need": OURS, "target": replace(RETE, id=1, slug="cantiere")}, "op.transfer_same"),
        ("/trasferisci K7M-R4P rete motivo", {"need": OURS, "target": replace(RETE, had="rifiutata")}, "op.transfer_had"),
        ("/trasferisci K7M-R4P rete motivo", {"need": OURS, "target": replace(RETE, had="trasferita")}, "op.transfer_had"),
        ("/trasferisci K7M-R4P rete motivo", {"need": replace(OURS, status="risolta"), "target": RETE}, "op.transfer_ended"),
        ("/trasferisci K7M-R4P rete motivo", {"need": NEED, "target": RETE}, "op.status_claim_first"),
        ("/trasferisci K7M-R4P rete motivo", {"need": None, "target": RETE}, "op.no_such_need"),
    ],
    ids=["no-reason", "no-slug", "unknown-slug", "inactive", "to-itself", "declined-before", "passed-on-before", "ended", "unclaimed", "unknown-need"],
)
def test_a_transfer_is_refused_kindly(engine: Engine, ctx: Context, text: str, loaded: dict[str, object], said: str) -> None:
    chat = desk(engine, ctx, **loaded)
    chat.citizen(text)
    assert chat.said() == [said]
    assert chat.effects() == []


def test_on_whatsapp_trasferisci_in_words_is_the_command_only_with_a_reason(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, channel="whatsapp", need=OURS, target=RETE)
    chat.citizen("trasferisci K7M-R4P rete serve un educatore")
    chat.bot_says("op.transferred", ticket="K7M-R4P")
    chat.citizen("riapri K7M-R4P")  # not ended: the command, refused kindly
    assert chat.said() == ["op.reopen_open"]


# --- /assegna ------------------------------------------------------------------------------------


def test_an_admin_gives_an_uncovered_need_to_a_cooperative(engine: Engine, ctx: Context) -> None:
    chat = admin(engine, ctx, need=replace(NEED, is_offered=False), target=RETE)
    chat.citizen("/assegna k7m r4p rete")
    chat.bot_says("admin.assigned", ticket="K7M-R4P", cooperative="Rete Romagna")
    assert chat.effects() == [NeedAssigned(need_id="n1", ticket="K7M-R4P", cooperative_id=2, at=START)]


def test_assigning_to_a_cooperative_without_operators_says_how_to_invite_one(engine: Engine, ctx: Context) -> None:
    chat = admin(engine, ctx, need=NEED, target=replace(RETE, operators=0))
    chat.citizen("/assegna K7M-R4P rete")
    chat.bot_says("admin.assigned_no_operators", cooperative="Rete Romagna", slug="rete")
    assert len(chat.effects(NeedAssigned)) == 1


@pytest.mark.parametrize(
    ("text", "loaded", "said"),
    [
        ("/assegna", {}, "admin.usage_assegna"),
        ("/assegna K7M-R4P", {"need": NEED}, "admin.usage_assegna"),
        ("/assegna K7M-R4P rete", {"target": RETE}, "admin.assign_no_need"),
        ("/assegna K7M-R4P atlantide", {"need": NEED}, "admin.assign_no_cooperative"),
        ("/assegna K7M-R4P rete", {"need": replace(NEED, status="chiusa"), "target": RETE}, "admin.assign_ended"),
        ("/assegna K7M-R4P rete", {"need": OURS, "target": RETE}, "admin.assign_held"),
        ("/assegna K7M-R4P rete", {"need": NEED, "target": replace(RETE, had="inviata")}, "admin.assign_already"),
        ("/assegna K7M-R4P rete", {"need": NEED, "target": replace(RETE, had="rifiutata")}, "admin.assign_declined"),
    ],
    ids=["nothing", "no-slug", "unknown-need", "unknown-slug", "ended", "held", "already-there", "declined-there"],
)
def test_an_assignment_is_refused_kindly(engine: Engine, ctx: Context, text: str, loaded: dict[str, object], said: str) -> None:
    chat = admin(engine, ctx, **loaded)
    chat.citizen(text)
    assert chat.said() == [said]
    assert chat.effects() == []


def test_assegna_is_an_unknown_command_for_an_operator(engine: Engine, ctx: Context) -> None:
    chat = desk(engine, ctx, need=NEED, target=RETE)
    chat.citizen("/assegna K7M-R4P rete")
    assert "admin.assigned" not in chat.said()
    assert chat.effects(NeedAssigned) == []


# --- the word at submission ----------------------------------------------------------------------


@pytest.mark.parametrize(("covered", "said"), [(False, "intake.done_searching"), (True, "intake.done")])
def test_the_citizen_is_told_honestly_whether_someone_covers_them(chat: Chat, covered: bool, said: str) -> None:
    for answer in ("ciao", "1", "1", "5", "Mi serve aiuto per la spesa", "Ravenna", "1", "1"):
        chat.citizen(answer)
    chat.bot_asks("intake.summary", options=["invia", "correggi"])
    chat.ctx = replace(chat.ctx, covered=covered)  # what `Reads.COVERAGE` loads at the confirmation
    chat.citizen("invia")
    chat.bot_says(said, ticket="K7M-R4P")
    assert len(chat.effects(NeedCreated)) == 1


def test_the_confirmation_declares_that_it_reads_the_coverage(engine: Engine) -> None:
    state = State(flow_id="intake", flow_version=engine.flows["intake"].version, step_id="confirm")
    _, reads = engine.flow_reads(state)
    assert [r.value for r in reads] == ["coverage"]
    _, earlier = engine.flow_reads(replace(state, step_id="comune"))
    assert earlier == frozenset()


# --- "non si è risolta" at the satisfaction question ---------------------------------------------


def _asked_satisfaction(engine: Engine, ctx: Context) -> Chat:
    chat = Chat(engine, ctx)
    flow = engine.flows[followup.SATISFACTION_ID]
    chat.state, question = followup.begin(flow, chat.state, ctx, need_id="n1", ticket="K7M-R4P")
    assert [o.payload for o in question.options] == ["1", "2", "3", "4", "5", "non_risolta"]
    return chat


@pytest.mark.parametrize("answer", ["6", "non si è risolta", "Non si è risolta!", "non risolta"])
def test_the_citizen_says_it_did_not_get_resolved_and_the_need_reopens(engine: Engine, ctx: Context, answer: str) -> None:
    chat = _asked_satisfaction(engine, ctx)
    chat.citizen(answer)
    chat.bot_says("satisfaction.reopened", ticket="K7M-R4P")
    assert chat.effects() == [
        NeedReopened(need_id="n1", ticket="K7M-R4P", from_status="risolta", operator_id=None, note=None, at=START)
    ]
    assert chat.is_idle()


def test_a_score_still_asks_for_a_comment(engine: Engine, ctx: Context) -> None:
    chat = _asked_satisfaction(engine, ctx)
    chat.citizen("4")
    chat.bot_asks("satisfaction.ask_comment")
    chat.citizen("Molto gentili")
    assert chat.effects() == [SatisfactionGiven(need_id="n1", score=4, comment="Molto gentili", at=START)]


def test_the_history_names_a_transfer_and_shows_the_rating(engine: Engine, ctx: Context) -> None:
    history = (HistoryItem(START, "trasferita", "serve un educatore", operator_id=3, cooperative="Rete Romagna"),)
    need = replace(OURS, history=history, satisfaction=4, satisfaction_comment="Gentili")
    chat = desk(engine, ctx, need=need)
    chat.citizen("/richiesta K7M-R4P")
    msg = chat.bot_says("op.need_detail", ticket="K7M-R4P")
    transfer, rating = msg.params["history"]
    assert transfer.params["status"] == Msg("op.history_transferred", {"cooperative": "Rete Romagna"})
    assert transfer.params["by"] == Msg("op.history_by", {"operator": 3})
    assert rating == Msg("op.history_rating", {"score": 4, "comment": Msg("op.history_note", {"note": "Gentili"})})

