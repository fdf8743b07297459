"""Conversation state: read before a step, written after it, in the pipeline's transaction.

Plain statements, not ORM rows: a turn reads the row once (with the citizen, see
`with_citizen`) and writes it once, with the version it read as the condition, so
a state that changed meanwhile is never overwritten (`StaleConversation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import State
from storage.models import Citizen, Conversation

TABLE: Any = Conversation.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
STATE_COLUMNS: tuple[Any, ...] = tuple(c for c in TABLE.c if c.name != "citizen_id")


class StaleConversation(Exception):
    """The conversation row is not at the version this turn read: the caller replays the turn."""


def _state(row: Mapping[Any, Any] | None) -> State:
    """A State from the columns of a conversation row (None: no row yet, a fresh state)."""
    if row is None or row["version"] is None:
        return State()
    return State(
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        step_id=row["step_id"],
        answers=MappingProxyType(dict(row["answers"])),
        history=tuple(row["history"]),
        misses=row["misses"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


async def load(session: AsyncSession, *, citizen_id: int) -> State:
    row = (await session.execute(select(*STATE_COLUMNS).where(TABLE.c.citizen_id == citizen_id))).mappings().first()
    return _state(row)


async def with_citizen(
    session: AsyncSession, *, channel: str, external_id: str, now: datetime, language: str = "it"
) -> tuple[Citizen, State]:
    """The citizen behind a channel identity (created if new, locked for this transaction on
    PostgreSQL) and their conversation state, in one query: a turn's first read.

    Two first messages racing each other both end on the same citizen: the loser of the
    unique constraint reads the winner's (as `citizens.get_or_create`).
    """
    query = (
        select(Citizen, *STATE_COLUMNS)
        .outerjoin(TABLE, TABLE.c.citizen_id == Citizen.id)
        .where(Citizen.channel == channel, Citizen.external_id == external_id)  # type: ignore[arg-type]
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Citizen)  # not the conversation: nullable side of the outer join
    found = (await session.execute(query)).first()
    if found is None:
        citizen = Citizen(channel=channel, external_id=external_id, language=language, created_at=now)
        try:
            async with session.begin_nested():
                session.add(citizen)
        except IntegrityError:
            found = (await session.execute(query)).one()
        else:
            return citizen, State()
    row = found._mapping
    return row[Citizen], _state({c.name: row[c] for c in STATE_COLUMNS})


async def save(session: AsyncSession, *, citizen_id: int, state: State, read_version: int | None = None) -> None:
    """Write the state in one statement (insert, or update of the existing row).

    With `read_version` (the version of the state the turn started from), the update only
    applies to a row still at that version; otherwise `StaleConversation` is raised and the
    transaction must be rolled back.
    """
    values = {
        "flow_id": state.flow_id,
        "flow_version": state.flow_version,
        "step_id": state.step_id,
        "answers": dict(state.answers),
        "history": list(state.history),
        "misses": state.misses,
        "version": state.version,
        "updated_at": state.updated_at,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(TABLE)
        .values(citizen_id=citizen_id, **values)
        .on_conflict_do_update(
            index_elements=[TABLE.c.citizen_id],
            set_=values,
            where=None if read_version is None else TABLE.c.version == read_version,
        )
        .returning(TABLE.c.citizen_id)
    )
    if (await session.execute(statement)).first() is None:
        raise StaleConversation(f"conversation of citizen {citizen_id} moved past version {read_version}")
