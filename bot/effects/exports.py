"""`/esporta`, confirmed: the files written and sent back to whoever asked, audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.effects.base import Applying, Handler
from bot.exports import CSV_TYPE, XLSX_TYPE, header, write
from bot.notify import Attachment, Notifier, Recipient
from bot.roles import Sender
from conversations import ExportRequested, Msg, Reply, Role
from storage.audit import AuditAction
from storage import audit, exports


def admin_or_own_cooperative(sender: Sender, effect: ExportRequested) -> bool:
    """Admins export everything; an operator only their cooperative's needs, without personal fields."""
    if sender.role == Role.ADMIN:
        return True
    return sender.role == Role.OPERATOR and effect.cooperative_id == sender.cooperative_id


class ExportEffects:
    def __init__(self, notifier: Notifier, *, export_dir: Path = Path("var/exports")) -> None:
        self.notifier = notifier
        self.export_dir = export_dir

    def handlers(self) -> tuple[Handler[Any], ...]:
        return (Handler(ExportRequested, self.export, requires=admin_or_own_cooperative),)

    async def export(self, a: Applying, effect: ExportRequested) -> None:
        data = await exports.rows(
            a.session, since=effect.since, until=effect.until, include_personal=effect.include_personal, cooperative_id=effect.cooperative_id
        )
        scope = "tutte" if effect.cooperative_id is None else f"coop{effect.cooperative_id}"
        stem = f"richieste-{scope}-{effect.since:%Y%m%d}-{effect.until:%Y%m%d}-{effect.at:%Y%m%dT%H%M%S}-{a.citizen_id}"
        files = write(self.export_dir, stem, header(effect.include_personal), data)
        to = Recipient.of_citizen(a.citizen)
        until = effect.until - timedelta(seconds=1)
        for path, kind, content_type in ((files.csv_path, "CSV", CSV_TYPE), (files.xlsx_path, "Excel", XLSX_TYPE)):
            caption = Reply(Msg("admin.export_caption", {"since": effect.since, "until": until, "rows": files.rows, "kind": kind}))
            await self.notifier.tell(a.session, to, caption, effect.at, Attachment(str(path), content_type))
        personal = " personal" if effect.include_personal else ""
        await audit.record(
            a.session, actor=a.actor, action=AuditAction.EXPORT, cooperative_id=effect.cooperative_id, detail=f"{files.rows} rows{personal}", at=effect.at
        )
