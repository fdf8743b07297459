"""`/esporta`: needs of a period as CSV and XLSX files under `var/exports/`, attached to outbox rows."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Category, ComuneRow, Cooperative, Need, NeedAssignment

logger = logging.getLogger(__name__)

COLUMNS: Final = ("ticket", "created_at", "category", "comune", "istat", "urgency", "status", "cooperative", "claimed_at", "resolved_at", "satisfaction")
PERSONAL: Final = ("description", "contact_method", "phone", "latitude", "longitude")
"""Only admins get these: operators see contacts only for needs they claimed, in the chat."""
CSV_TYPE: Final = "text/csv"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class ExportFiles:
    csv_path: Path
    xlsx_path: Path
    rows: int


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


async def rows(
    session: AsyncSession, *, since: datetime, until: datetime, include_personal: bool, cooperative_id: int | None
) -> list[list[object]]:
    query = (
        select(Need, Category.slug, ComuneRow.name, Cooperative.name)
        .join(Category, col(Category.slug) == col(Need.category_slug))
        .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
        .outerjoin(Cooperative, col(Cooperative.id) == col(Need.claimed_by_cooperative_id))
        .where(col(Need.created_at) >= since, col(Need.created_at) < until)
        .order_by(col(Need.created_at), col(Need.id))
    )
    if cooperative_id is not None:
        routed = select(col(NeedAssignment.need_id)).where(col(NeedAssignment.cooperative_id) == cooperative_id)
        query = query.where(or_(col(Need.claimed_by_cooperative_id) == cooperative_id, col(Need.id).in_(routed)))
    out: list[list[object]] = []
    for need, category, comune, coop in (await session.execute(query)).all():
        line: list[object] = [
            need.ticket,
            _iso(need.created_at),
            category,
            comune,
            need.comune_istat,
            need.urgency,
            need.status,
            coop or "",
            _iso(need.claimed_at),
            _iso(need.resolved_at),
            need.satisfaction if need.satisfaction is not None else "",
        ]
        if include_personal:
            line += [need.description, need.contact_method, need.contact_phone or "", need.latitude or "", need.longitude or ""]
        out.append(line)
    return out


def write(folder: Path, stem: str, header: Sequence[str], data: list[list[object]]) -> ExportFiles:
    """Write both files; the folder is created on first use (``var/`` is not in the repository)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    # utf-8-sig: Excel opens accented comuni correctly only with the BOM.
    with csv_path.open("w", newline="", encoding="utf-8-sig") as fp:
        writer = csv.writer(fp)
        writer.writerow(header)
        writer.writerows(data)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("richieste")
    sheet.append(list(header))
    for line in data:
        sheet.append(line)
    book.save(xlsx_path)
    logger.info("export %s written: %s row(s)", stem, len(data))
    return ExportFiles(csv_path, xlsx_path, len(data))


def header(include_personal: bool) -> tuple[str, ...]:
    return COLUMNS + PERSONAL if include_personal else COLUMNS
