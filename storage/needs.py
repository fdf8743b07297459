"""Needs: creation from the intake, listing for the citizen and for inspection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import Integer, bindparam, update
from sqlalchemy import select as select_columns  # sqlmodel's select is typed for at most four columns
from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import NeedCreated
from conversations.vocabulary import NeedStatus
from storage.models import Category, Citizen, ComuneRow, Cooperative, FetchStatus, Need, NeedAttachment, NeedStatusChange, defaults_of
from storage.plain import Plain, insert_text


CONTENT_TYPE_CHARS: Final = 100
"""`need_attachment.content_type`'s length: a MIME type a client declared longer than this is not kept."""
INT32_MAX: Final = 2**31 - 1
"""`need_attachment.size` is an INTEGER; Telegram says a file_size "can be bigger than 2^31"."""


class TicketTaken(Exception):
    """The drawn ticket code already exists; the caller retries with a new one."""


_NEED: Any = Need.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
_NEW_NEED: Final = Plain(insert_text(_NEED, " ON CONFLICT (ticket) DO NOTHING RETURNING id"))
"""A drawn ticket that exists writes nothing and returns no id, in one statement on the plain lane, where
a savepoint, an ORM flush and a release cost three statements through SQLAlchemy (issue 18)."""


_DEFAULTS: Final = defaults_of(Need)
"""The columns a need takes from the model, as `Need(...)` would set them; a column without a default must be given."""


async def create(session: AsyncSession, *, citizen_id: int, need: NeedCreated, fetch_media: bool = False) -> None:
    """The need, its first status and its attachments; `fetch_media` queues a download of each
    attachment given by URL (WhatsApp with ``download_media``), done after the commit.

    Raises `TicketTaken`, having written nothing, when the drawn ticket code exists."""
    values: dict[str, object] = _DEFAULTS() | {
        "id": need.need_id,
        "ticket": need.ticket,
        "citizen_id": citizen_id,
        "category_slug": need.category,
        "description": need.description,
        "comune_istat": need.comune_istat,
        "urgency": need.urgency,
        "contact_method": need.contact_method,
        "contact_phone": need.contact_phone,
        "latitude": need.location.latitude if need.location else None,
        "longitude": need.location.longitude if need.location else None,
        "status": NeedStatus.NEW,
        "created_at": need.at,
        "updated_at": need.at,
    }
    if not await _NEW_NEED.rows(session, values):
        raise TicketTaken(need.ticket)
    session.add(NeedStatusChange(need_id=need.need_id, to_status=NeedStatus.NEW, actor="citizen", at=need.at))
    for media in need.media:
        is_fetched = fetch_media and media.ref.startswith(("https://", "http://"))
        session.add(
            NeedAttachment(
                need_id=need.need_id,
                kind=str(media.kind),
                ref=media.ref,
                # The provider passes on what the sender's app declared: keep what fits, else unknown,
                # or one odd file would make every confirmation fail on PostgreSQL (issue 13).
                content_type=media.content_type if len(media.content_type or "") <= CONTENT_TYPE_CHARS else None,
                size=media.size if media.size is not None and 0 <= media.size <= INT32_MAX else None,
                fetch_status=FetchStatus.PENDING if is_fetched else None,
                fetch_due_at=need.at if is_fetched else None,
                transcript=media.transcript,
            )
        )


class Summary(NamedTuple):
    """One of a citizen's needs as a turn shows it."""

    ticket: str
    category_slug: str
    status: str
    created_at: datetime
    id: str
    name: str | None
    """The name of the cooperative holding it, if one does."""
    updated_at: datetime
    """The last status change."""


async def summaries_of_citizen(session: AsyncSession, *, citizen_id: int, limit: int = 10) -> list[Summary]:
    """A citizen's latest needs: what a turn shows, read on every message, so without building ORM
    objects, in one statement (the plain lane on SQLite, `storage/plain.py`)."""
    return [Summary(*row) for row in await _SUMMARY_ROWS.rows(session, {"citizen_id": citizen_id, "limit": limit})]


_COOPERATIVE: Any = Cooperative.__table__  # type: ignore[attr-defined]
_SUMMARIES: Final[Any] = (
    select_columns(
        _NEED.c.ticket, _NEED.c.category_slug, _NEED.c.status, _NEED.c.created_at, _NEED.c.id, _COOPERATIVE.c.name, _NEED.c.updated_at
    )
    .select_from(_NEED.outerjoin(_COOPERATIVE, _COOPERATIVE.c.id == _NEED.c.claimed_by_cooperative_id))
    .where(_NEED.c.citizen_id == bindparam("citizen_id"))
    .order_by(_NEED.c.created_at.desc())
    .limit(bindparam("limit", type_=Integer))
)
"""Built once, of the tables' columns (no ORM entity to resolve): it runs on every message, and building it
cost about as much as running it."""
_SUMMARY_ROWS: Final = Plain(_SUMMARIES)


async def listing(
    session: AsyncSession, *, since: datetime | None = None, limit: int = 1000
) -> Sequence[tuple[Need, ComuneRow, Category]]:
    """Needs with their comune and category, newest first (for `ascolto needs`)."""
    query = (
        select(Need, ComuneRow, Category)
        .join(ComuneRow, col(ComuneRow.istat_code) == col(Need.comune_istat))
        .join(Category, col(Category.slug) == col(Need.category_slug))
        .order_by(col(Need.created_at).desc(), col(Need.id))
        .limit(limit)
    )
    if since is not None:
        query = query.where(col(Need.created_at) >= since)
    result = await session.execute(query)
    return [(n, c, k) for n, c, k in result.all()]


async def by_id(session: AsyncSession, *, need_id: str) -> Need | None:
    return await session.get(Need, need_id)


async def citizen_of(session: AsyncSession, *, need_id: str) -> Citizen | None:
    """The citizen behind a need; None once their data was erased (the need keeps no link)."""
    need = await session.get(Need, need_id)
    if need is None or need.citizen_id is None:
        return None
    return await session.get(Citizen, need.citizen_id)


async def labels(session: AsyncSession, *, comune_istat: str, category: str) -> tuple[ComuneRow, Category]:
    """The comune and category rows a need names (both exist: foreign keys)."""
    comune = await session.get(ComuneRow, comune_istat)
    found = await session.get(Category, category)
    assert comune is not None and found is not None
    return comune, found


async def rate(session: AsyncSession, *, need_id: str, score: int, comment: str | None) -> None:
    await session.execute(
        update(Need).where(col(Need.id) == need_id).values(satisfaction=score, satisfaction_comment=comment)
    )
