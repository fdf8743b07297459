"""Admin commands as pure code: each family as a transcript against what the reader loaded into `ctx.staff`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from conversations import (
    AuditEntry,
    CategoryMoved,
    ChannelHealth,
    CommandRefused,
    Context,
    DigestRequested,
    Engine,
    ExportRequested,
    FlowError,
    InviteCreated,
    Msg,
    OperatorRevoked,
    Role,
    RoleGranted,
    RoleRevoked,
    StaffCommandUsed,
    State,
    Stats,
    SystemStatus,
    Tally,
    Translator,
)
from conversations import admin
from conversations.admin import AUDIT_DEFAULT, AUDIT_MAX, audit_size, coop_slug_arg
from conversations.period import ROME
from tests.conversations.staff_chat import (
    CANTIERE,
    CITIZEN,
    COOPS,
    OPERATOR,
    OPERATORS,
    load,
    staff_chat,
    summary,
)
from tests.helpers.clock import START

STATS = Stats(
    since=START - timedelta(days=30),
    until=START,
    total=3,
    by_status=(Tally("nuova", 2), Tally("risolta", 1)),
    by_category=(Tally("Spesa", 3),),
    median_claim_hours=2.04,
    follow_ups_sent=2,
    follow_ups_answered=1,
    follow_up_answers=(Tally("si", 1),),
    satisfaction_count=1,
    satisfaction_mean=4.25,
)


# --- reports ---------------------------------------------------------------------


def test_statistics_for_a_period(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, stats=STATS)
    chat.citizen("/statistiche 30g")
    assert chat.said() == ["admin.stats"]
    msg = chat.bot_says("admin.stats", since=STATS.since, until=START, total=3, follow_ups=2, satisfaction_count=1)
    p = msg.params
    assert p["by_status"] == (
        Msg("admin.tally", {"label": Msg("status.nuova"), "count": 2}),
        Msg("admin.tally", {"label": Msg("status.risolta"), "count": 1}),
    )
    assert p["by_category"] == (Msg("admin.tally", {"label": "Spesa", "count": 3}),)
    assert p["by_comune"] == p["by_cooperative"] == Msg("admin.none")
    assert (p["median_claim"], p["median_resolve"]) == (Msg("admin.hours", {"hours": 2.0}), Msg("admin.not_available"))
    assert p["follow_up_answers"] == (
        Msg("admin.tally", {"label": Msg("admin.stats_answered"), "count": 1}),
        Msg("admin.tally", {"label": Msg("admin.followup_si"), "count": 1}),
    )
    assert p["satisfaction_mean"] == 4.2
    assert chat.effects() == [StaffCommandUsed("statistiche", START)]
    assert not chat.state.is_active


def test_statistics_without_figures_say_how_to_ask(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)  # the reader loads nothing for a period it cannot read
    chat.citizen("/statistiche boh")
    assert chat.said() == ["admin.usage_statistiche"]
    assert chat.effects() == []


def test_system_status(engine: Engine, ctx: Context) -> None:
    at = START - timedelta(minutes=5)
    system = SystemStatus(
        outbox=(Tally("pending", 4),),
        oldest_pending_at=at,
        jobs=(("digest", at), ("retention", None)),
        channels=(ChannelHealth("telegram", pending=4, failed_24h=1, held=0, last_sent_at=None),),
        failed_inbound_24h=3,
    )
    chat = staff_chat(engine, ctx, system=system)
    chat.citizen("/sistema")
    msg = chat.bot_says(
        "admin.system", oldest=at, outbox=(Msg("admin.tally", {"label": "pending", "count": 4}),), failed_inbound=3
    )
    assert msg.params["jobs"] == (
        Msg("admin.system_job", {"job": "digest", "at": at}),
        Msg("admin.system_job", {"job": "retention", "at": Msg("admin.never")}),
    )
    assert msg.params["channels"] == (
        Msg("admin.system_channel", {"channel": "telegram", "pending": 4, "failed": 1, "held": 0, "last": Msg("admin.never")}),
    )
    assert chat.effects() == [StaffCommandUsed("stato_sistema", START)]
    chat.ctx = replace(chat.ctx, staff=replace(chat.ctx.staff, system=SystemStatus()))
    chat.citizen("/stato_sistema")
    chat.bot_says("admin.system", oldest=Msg("admin.none"), outbox=Msg("admin.none"), jobs=Msg("admin.none"), channels=Msg("admin.none"))


@pytest.mark.parametrize(
    ("args", "size"),
    [((), AUDIT_DEFAULT), (("5",), 5), (("0",), 1), (("500",), AUDIT_MAX), (("tanti",), AUDIT_DEFAULT)],
)
def test_audit_size(args: tuple[str, ...], size: int) -> None:
    assert (AUDIT_DEFAULT, AUDIT_MAX) == (20, 100)
    assert audit_size(args) == size


def test_audit_lists_what_was_read(engine: Engine, ctx: Context, translator: Translator) -> None:
    rows = (
        AuditEntry(START, "export", "admin", detail="3 rows"),
        AuditEntry(START, "need_claimed", "operator", by_operator=3, by_cooperative="cantiere", ticket="K7MR4P", cooperative="cantiere"),
        AuditEntry(START, "status_changed", "operator", by_operator=3, by_cooperative="cantiere", ticket="K7MR4P", status="risolta"),
        AuditEntry(START, "operator_revoked", "admin", operator=4),
        AuditEntry(START, "retired_action", "cli", is_known=False),
    )
    chat = staff_chat(engine, ctx, audit=rows)
    chat.citizen("/audit 5")
    msg = chat.bot_says("admin.audit", count=5)
    items = msg.params["items"]
    assert isinstance(items, tuple)
    assert [m.params["action"] for m in items] == [
        Msg("audit.export"),
        Msg("audit.need_claimed"),
        Msg("audit.status_changed"),
        Msg("audit.operator_revoked"),
        Msg("audit.unknown", {"action": "retired_action"}),
    ]
    lines = translator.render(chat.last.replies[0], "it").text.splitlines()[1:]
    assert lines == [
        "• 23 novembre 2026, 10:30 – un amministratore: ha esportato i dati – 3 rows",
        "• 23 novembre 2026, 10:30 – operatore n. 3 di cantiere: ha preso in carico – richiesta K7MR4P",
        "• 23 novembre 2026, 10:30 – operatore n. 3 di cantiere: ha cambiato lo stato – richiesta K7MR4P, risolta",
        "• 23 novembre 2026, 10:30 – un amministratore: ha revocato un operatore – operatore n. 4",
        "• 23 novembre 2026, 10:30 – la riga di comando: retired_action",
    ]
    load(chat, audit=())
    chat.citizen("/audit")
    chat.bot_says("admin.audit", count=0, items=Msg("admin.none"))
    assert chat.effects(StaffCommandUsed) == [StaffCommandUsed("audit", START)] * 2


def test_operators_and_cooperatives_are_listed(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, operators=OPERATORS, cooperatives=COOPS)
    chat.citizen("/operatori")
    items = chat.bot_says("admin.operators").params["items"]
    assert items == (
        Msg("admin.operator_item", {"id": 3, "cooperative": "Il Cantiere", "channel": "telegram", "external_id": "42", "state": Msg("admin.active")}),
        Msg(
            "admin.operator_item",
            {"id": 4, "cooperative": "Il Cantiere", "channel": "whatsapp", "external_id": "+393330000004", "state": Msg("admin.revoked")},
        ),
    )
    chat.citizen("/cooperatives")
    assert chat.bot_says("admin.cooperatives").params["items"] == (
        Msg("admin.cooperative_item", {"slug": "cantiere", "name": "Il Cantiere", "operators": 2, "state": Msg("admin.active")}),
        Msg("admin.cooperative_item", {"slug": "chiusa", "name": "La Chiusa", "operators": 0, "state": Msg("admin.inactive")}),
    )
    load(chat, operators=(), cooperatives=())
    chat.citizen("/operators")
    chat.bot_says("admin.operators", items=Msg("admin.none"))
    assert [e.command for e in chat.effects(StaffCommandUsed)] == ["operatori", "cooperative", "operatori"]


# --- exports: admins get everything, operators their cooperative without personal data ------


def test_admin_exports_a_month_with_personal_data(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/esporta 2026-10")
    since, until = datetime(2026, 10, 1, tzinfo=ROME), datetime(2026, 11, 1, tzinfo=ROME)
    chat.bot_says("admin.export_sent", since=since, until=until - timedelta(seconds=1))
    assert chat.effects() == [ExportRequested(since, until, include_personal=True, cooperative_id=None, at=START)]


def test_operator_exports_their_cooperative_only(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, OPERATOR)
    chat.citizen("/export 7g")
    chat.bot_says("admin.export_sent_operator", since=START - timedelta(days=7))
    assert chat.effects() == [ExportRequested(START - timedelta(days=7), START, include_personal=False, cooperative_id=1, at=START)]
    chat.citizen("/esporta ieri")
    assert chat.said() == ["admin.usage_esporta"]
    assert len(chat.effects()) == 1


# --- invites and digests name an active cooperative -----------------------------------


def test_invite_for_an_active_cooperative(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, replace(ctx, new_id="0123456789abcdef" * 2), cooperatives=COOPS)
    chat.citizen("/invito Cantiere")
    chat.bot_says("admin.invite_created", code="CUEW-HYK4", cooperative="Il Cantiere")
    assert chat.effects() == [InviteCreated(cooperative_id=1, code="CUEWHYK4", at=START)]


def test_digest_now_refuses_a_cooperative_without_operators(engine: Engine, ctx: Context) -> None:
    """Issue 15: it promised a send that nobody got."""
    empty = replace(CANTIERE, operators=0)
    chat = staff_chat(engine, ctx, cooperatives=(empty,))
    chat.citizen("/digest_ora cantiere")
    chat.bot_says("admin.digest_no_operators", cooperative="Il Cantiere", slug="cantiere")
    assert chat.effects() == []


def test_digest_now_refuses_a_repeat_and_says_when_the_last_went(engine: Engine, ctx: Context) -> None:
    """Issue 15: three copies arrived. The reader says when the last digest went and when another may."""
    last, again = START - timedelta(minutes=4), START + timedelta(minutes=6)
    chat = staff_chat(engine, ctx, cooperatives=(replace(CANTIERE, last_digest_at=last, digest_again_at=again),))
    chat.citizen("/digest_ora cantiere")
    chat.bot_says("admin.digest_too_soon", cooperative="Il Cantiere", last=last, again=again)
    assert chat.effects() == []
    load(chat, cooperatives=(replace(CANTIERE, last_digest_at=START - timedelta(minutes=11), digest_again_at=START - timedelta(minutes=1)),))
    chat.citizen("/digest_ora cantiere")
    chat.bot_says("admin.digest_queued", cooperative="Il Cantiere")
    assert chat.effects() == [DigestRequested(cooperative_id=1, at=START)]


@pytest.mark.parametrize("args", ["chiusa", "nessuna", "", "cantiere chiusa"])
def test_invite_needs_one_active_cooperative(engine: Engine, ctx: Context, args: str) -> None:
    chat = staff_chat(engine, ctx, cooperatives=COOPS)
    chat.citizen(f"/invito {args}")
    assert chat.said() == ["admin.usage_invito"]
    assert chat.effects() == []


def test_digest_now_for_an_active_cooperative(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, cooperatives=COOPS)
    chat.citizen("/digest_ora cantiere")
    chat.bot_says("admin.digest_queued", cooperative="Il Cantiere")
    chat.citizen("/digest_now chiusa")
    assert chat.said() == ["admin.usage_digest_ora"]
    assert chat.effects() == [DigestRequested(cooperative_id=1, at=START)]


def test_cooperative_slug_argument() -> None:
    assert coop_slug_arg(("Cantiere",)) == "cantiere"
    assert coop_slug_arg(()) == ""


# --- roles: confirmed before anything changes ------------------------------------------


def test_grant_admin_is_confirmed_then_done(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/nomina_admin Telegram 4242")
    assert summary(chat) == Msg("admin.confirm_grant", {"channel": "telegram", "external_id": "4242"})
    assert chat.effects() == []
    chat.citizen("sì")
    assert chat.said() == ["admin.done"]
    assert chat.effects() == [RoleGranted(Role.ADMIN, "telegram", "4242", START)]
    assert not chat.state.is_active


def test_revoke_admin_answered_no_changes_nothing(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/revoke_admin whatsapp +393330000009")
    assert summary(chat) == Msg("admin.confirm_revoke", {"channel": "whatsapp", "external_id": "+393330000009"})
    chat.citizen("no")
    assert chat.said() == ["admin.nothing_changed"]
    assert chat.effects() == []
    chat.citizen("/revoca_admin console boss")
    chat.citizen(choice="si")
    assert chat.effects() == [RoleRevoked(Role.ADMIN, "console", "boss", START)]


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("/nomina_admin fax 4242", "admin.usage_nomina_admin"),
        ("/nomina_admin telegram", "admin.usage_nomina_admin"),
        (f"/nomina_admin telegram {'9' * 65}", "admin.usage_nomina_admin"),
        ("/revoca_admin telegram 1 2", "admin.usage_revoca_admin"),
    ],
)
def test_roles_need_a_channel_and_an_id(engine: Engine, ctx: Context, text: str, usage: str) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen(text)
    assert chat.said() == [usage]
    assert not chat.state.is_active


def test_an_admin_revoked_while_confirming_changes_nothing(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/nomina_admin telegram 4242")
    load(chat, role=Role.CITIZEN)
    chat.citizen("sì")
    assert chat.said() == ["admin.nothing_changed"]
    assert chat.effects() == []


def test_revoke_an_active_operator(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, operators=OPERATORS)
    chat.citizen("/revoca_operatore 3")
    assert summary(chat) == Msg("admin.confirm_revoke_operator", {"id": 3, "cooperative": "Il Cantiere"})
    chat.citizen("1")
    chat.bot_says("admin.done")
    assert chat.effects() == [OperatorRevoked(3, START)]
    for text in ("/revoca_operatore 4", "/revoke_operator 9", "/revoca_operatore tre", "/revoca_operatore"):
        chat.citizen(text)  # revoked already, unknown, not a number, missing
        assert chat.said() == ["admin.usage_revoca_operatore"], text
    assert len(chat.effects()) == 1


def test_a_command_in_the_middle_of_a_confirmation_answers_and_asks_again(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, audit=())
    chat.citizen("/nomina_admin telegram 4242")
    chat.citizen("/audit")
    assert chat.said() == ["admin.audit", "admin.confirm"]
    chat.citizen("forse")
    assert chat.said() == ["common.retry_choice", "admin.confirm"]
    chat.citizen("/annulla")
    chat.bot_says("common.cancelled")
    assert chat.effects(RoleGranted) == []


# --- the word rule: a plain word with valid arguments is the command, for an admin, on WhatsApp ---


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Statistiche 30g", "admin.stats"),
        ("audit 3", "admin.audit"),
        ("esporta 7g", "admin.export_sent"),
        ("invito cantiere", "admin.invite_created"),
        ("digest_ora cantiere", "admin.digest_queued"),
        ("nomina_admin whatsapp +393330000009", "admin.confirm"),
        ("revoca_operatore 3", "admin.confirm"),
    ],
)
def test_on_whatsapp_an_admin_types_commands_as_words(engine: Engine, ctx: Context, text: str, said: str) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", stats=STATS, cooperatives=COOPS, operators=OPERATORS)
    chat.citizen("ciao")  # the home menu: a question with options
    chat.citizen(text)
    assert said in chat.said()
    assert chat.effects(CommandRefused) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("statistiche boh", id="unreadable-period"),
        pytest.param("audit tutto", id="not-a-number"),
        pytest.param("invito chiusa", id="inactive-cooperative"),
        pytest.param("nomina_admin fax 1", id="unknown-channel"),
        pytest.param("revoca_operatore 4", id="revoked-operator"),
        pytest.param("operatori tutti", id="no-arguments-taken"),
    ],
)
def test_on_whatsapp_words_whose_arguments_do_not_check_out_are_no_command(engine: Engine, ctx: Context, text: str) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", cooperatives=COOPS, operators=OPERATORS)
    chat.citizen("ciao")
    chat.citizen(text)
    assert not any(m.startswith("admin.") for m in chat.said()), chat.said()
    assert chat.effects() == []


def test_valid_arguments_are_no_command_on_telegram_or_for_a_citizen(engine: Engine, ctx: Context) -> None:
    on_telegram = staff_chat(engine, ctx, channel="telegram", stats=STATS)
    on_telegram.citizen("statistiche 30g")
    assert "admin.stats" not in on_telegram.said()
    on_telegram.citizen("/statistiche 30g")
    assert "admin.stats" in on_telegram.said()
    citizen = staff_chat(engine, ctx, CITIZEN, channel="whatsapp", stats=STATS)
    citizen.citizen("statistiche 30g")
    assert "admin.stats" not in citizen.said()
    assert citizen.effects() == []  # a plain word is never an attempt


def test_at_a_free_text_question_an_admin_s_words_are_the_answer(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, replace(ctx, has_consent=True), channel="whatsapp", stats=STATS)
    for text in ("ciao", "1", "5"):  # menu → new need → category: the description has no options
        chat.citizen(text)
    chat.bot_asks("intake.ask_description")
    chat.citizen("statistiche 30g")
    assert "admin.stats" not in chat.said()
    assert chat.state.answers["description"] == "statistiche 30g"
    assert chat.effects(StaffCommandUsed) == []


# --- refusal: anyone else gets what an unknown command gets, and the attempt is recorded -------


@pytest.mark.parametrize(
    "text", ["/statistiche", "/stato_sistema", "/audit 5", "/nomina_admin telegram 1", "/categorie", "/digest_ora cantiere"]
)
def test_a_citizen_typing_an_admin_command_gets_what_an_unknown_command_gets(engine: Engine, ctx: Context, text: str) -> None:
    citizen = staff_chat(engine, ctx, CITIZEN, stats=STATS, cooperatives=COOPS)
    citizen.citizen(text)
    unknown = staff_chat(engine, ctx, CITIZEN)
    unknown.citizen("/sconosciuto")
    assert citizen.said() == unknown.said() == ["common.welcome", "menu.ask"]
    assert citizen.effects() == [CommandRefused(text.split()[0].lstrip("/"))]
    assert unknown.effects() == []


def test_an_operator_may_export_but_not_use_admin_commands(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, OPERATOR, cooperatives=COOPS)
    chat.citizen("/invito cantiere")
    assert chat.effects() == [CommandRefused("invito")]
    chat.citizen("/esporta")
    chat.bot_says("admin.export_sent_operator")
    assert chat.effects(ExportRequested)[0] == ExportRequested(
        START - timedelta(days=30), START, include_personal=False, cooperative_id=1, at=START
    )


def test_a_plain_word_alone_from_a_citizen_is_no_attempt(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, CITIZEN)
    chat.citizen("statistiche")
    assert chat.effects() == []
    assert chat.said() == ["common.welcome", "menu.ask"]


def test_an_export_between_two_days_includes_the_last_one(engine: Engine, ctx: Context) -> None:
    assert START.tzinfo is UTC  # days start at midnight in Rome, not UTC
    chat = staff_chat(engine, ctx)
    chat.citizen("/esporta 2026-11-01 2026-11-02")
    [export] = chat.effects(ExportRequested)
    assert isinstance(export, ExportRequested)
    assert (export.since, export.until) == (datetime(2026, 11, 1, tzinfo=ROME), datetime(2026, 11, 3, tzinfo=ROME))


# --- the confirm-only table ----------------------------------------------------------------


def test_usage_and_summary_texts_are_catalogued(translator: Translator) -> None:
    known = set(translator.msgids)
    usages = {s.usage for s in admin.SPECS if s.usage is not None}
    summaries = {row.summary for row in admin.CONFIRMED}
    assert len(usages) == 15 and len(summaries) == 6  # + /sinonimi_categoria (issue 14)
    assert usages | summaries <= known, sorted((usages | summaries) - known)
    with pytest.raises(FlowError, match="admin.confirm_grant"):
        admin.build_confirm(known - {"admin.confirm_grant"})


def test_a_confirmation_stored_before_a_deploy_still_applies(engine: Engine, ctx: Context) -> None:
    """The stored kinds and fields are a format: conversations in progress hold them."""
    assert set(admin.ACTIONS) == {
        "grant_admin",
        "revoke_admin",
        "revoke_operator",
        "move_category",
        "disable_category",
        "deactivate_cooperative",
    }
    chat = staff_chat(engine, ctx)
    chat.state = State(
        flow_id=admin.CONFIRM_FLOW,
        flow_version=1,
        step_id="confirm",
        answers=MappingProxyType(
            {
                "action": {"kind": "move_category", "slug": "salute", "position": 1},
                "summary": {"id": "admin.confirm_category_move", "params": {"name": "Salute", "position": 1}},
            }
        ),
        updated_at=START,
    )
    chat.citizen("sì")
    assert chat.effects() == [CategoryMoved("salute", 1, START)]
    unknown = {"action": {"kind": "gone"}, "summary": {"id": "admin.none", "params": {}}}
    chat.state = replace(chat.state, flow_id=admin.CONFIRM_FLOW, flow_version=1, step_id="confirm", answers=MappingProxyType(unknown))
    chat.citizen("sì")
    assert chat.said() == ["admin.nothing_changed"]
    assert len(chat.effects()) == 1
