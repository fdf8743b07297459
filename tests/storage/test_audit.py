"""The audit trail speaks a closed vocabulary: every action the code writes is an `AuditAction`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import Core
from conversations.i18n import po_messages
from storage import audit
from storage.audit import AuditAction
from storage.db import transaction
from storage.models import AuditLog
from tests.helpers.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "conversations", "handlers", "storage")
HISTORIC = {
    "need_unrouted", "need_claimed", "need_declined", "status_changed", "note_added", "follow_up_answered",
    "need_escalated", "needs_anonymised", "operator_enrolled", "command_refused", "data_rights", "data_erased",
    "staff_read", "admin_granted", "admin_already", "admin_revoked", "admin_not_found", "operator_revoked",
    "operator_not_found", "invite_created", "category_added", "category_exists", "category_renamed", "category_synonyms",
    "category_moved", "category_disabled", "category_not_found", "cooperative_created", "cooperative_exists",
    "cooperative_edited", "cooperative_unchanged", "cooperative_deactivated", "cooperative_not_found",
    "digest_requested", "export", "broadcast",
    "invite_refused", "personal_data_expired",  # issue 13
}  # fmt: skip
"""The actions rows already hold: each must still read as an `AuditAction`."""


def test_values_are_unique_and_old_rows_still_read() -> None:
    assert len(AuditAction.__members__) == len(AuditAction)  # no alias: two names, one stored string
    assert HISTORIC <= {a.value for a in AuditAction}  # new actions may come; none of these may go
    assert all(AuditAction(v).value == v for v in HISTORIC)


async def test_record_writes_the_action_and_refuses_a_plain_string(core: Core, clock: FakeClock) -> None:
    async with transaction(core.sessions) as session:
        with pytest.raises(TypeError):
            await audit.record(session, actor="system", action="need_claimed", at=clock.now)  # type: ignore[arg-type]
        await audit.record(session, actor="system", action=AuditAction.NEED_ESCALATED, need_id="ab12", detail="x" * 200, at=clock.now)
    async with transaction(core.sessions) as session:
        [row] = (await session.execute(select(AuditLog))).scalars().all()
    assert (AuditAction(row.action), row.need_id, row.detail) == (AuditAction.NEED_ESCALATED, "ab12", "x" * 120)


def _trees() -> list[tuple[Path, ast.AST]]:
    paths = (p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts)
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in paths]


def test_code_writes_audit_rows_only_through_record_with_an_audit_action() -> None:
    """No string literal reaches `action=`, and no other module builds an `AuditLog` row."""
    seen = 0
    for path, tree in _trees():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = ast.unparse(call.func)
            if name.endswith("AuditLog"):
                assert path == ROOT / "storage" / "audit.py", f"{path}:{call.lineno}: AuditLog built outside storage/audit.py"
            action = next((k.value for k in call.keywords if k.arg == "action"), None)
            if name != "audit.record" or action is None:
                continue
            seen += 1
            strings = [n for n in ast.walk(action) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            assert not strings, f"{path}:{call.lineno}: a string literal as an audit action"
    assert seen > 0


def test_every_action_is_written_somewhere() -> None:
    """The enum lists what the code writes, nothing more: an unused member is a dead word in `/audit`."""
    used = {
        node.attr
        for path, tree in _trees()
        if path != ROOT / "storage" / "audit.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "AuditAction"
    }
    assert set(AuditAction.__members__) <= used, set(AuditAction.__members__) - used


@pytest.mark.parametrize("lang", ["it", "en"])
def test_every_audit_action_has_a_label_for_audit(lang: str) -> None:
    """`/audit` shows each action by its label, msgid ``audit.<value>``: a new `AuditAction` member needs its line
    in every catalog (the block headed "/audit labels" in locales/*/LC_MESSAGES/ascolto.po)."""
    catalog = po_messages(ROOT / "locales" / lang / "LC_MESSAGES" / "ascolto.po")
    missing = [a.value for a in AuditAction if not catalog.get(f"audit.{a.value}")]
    assert missing == [], f"add `msgid \"audit.<value>\"` for {missing} to locales/{lang}/LC_MESSAGES/ascolto.po"
