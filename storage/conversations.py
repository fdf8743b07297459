"""Conversation state: read before a step, written after it, in the pipeline's transaction.

Plain statements, not ORM rows: a turn reads the row once (with the citizen, see
`with_citizen`) and writes it once, with the version it read as the condition, so
a state that changed meanwhile is never overwritten (`StaleConversation`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import State
from storage.models import Citizen, Conversation
from storage.plain import Plain, insert_text

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
    unique constraint reads the winner's.
    """
    query = _citizen_query(session.bind is not None and session.bind.dialect.name == "postgresql")
    identity = {"channel": channel, "external_id": external_id}
    found = (await session.execute(query, identity)).first()
    if found is None:
        citizen = Citizen(channel=channel, external_id=external_id, language=language, created_at=now)
        try:
            async with session.begin_nested():
                session.add(citizen)
        except IntegrityError:
            found = (await session.execute(query, identity)).one()
        else:
            return citizen, State()
    row = found._mapping
    return row[Citizen], _state({c.name: row[c] for c in STATE_COLUMNS})


@functools.cache
def _citizen_query(lock: bool) -> Any:
    """`with_citizen`'s query, built once (a turn's first statement: building it cost more than running it)."""
    query = (
        select(Citizen, *STATE_COLUMNS)
        .outerjoin(TABLE, TABLE.c.citizen_id == Citizen.id)
        .where(Citizen.channel == bindparam("channel"), Citizen.external_id == bindparam("external_id"))  # type: ignore[arg-type]
    )
    # PostgreSQL: the citizen locked for the turn; not the conversation (the nullable side of the outer join).
    return query.with_for_update(of=Citizen) if lock else query


def _upsert(*, guarded: bool) -> Any:
    """``INSERT … ON CONFLICT (citizen_id) DO UPDATE``, the same SQL on SQLite (≥ 3.35) and PostgreSQL (`plain.insert_text`)."""
    tail = (
        f" ON CONFLICT (citizen_id) DO UPDATE SET {', '.join(f'{c.name} = excluded.{c.name}' for c in STATE_COLUMNS)}"
        + (" WHERE conversation.version = :read_version" if guarded else "")
        + " RETURNING citizen_id"
    )
    return insert_text(TABLE, tail, extra=[bindparam("read_version", type_=TABLE.c.version.type)] if guarded else [])


UPSERT: Any = _upsert(guarded=False)
UPSERT_IF_AT: Any = _upsert(guarded=True)
_UPSERT, _UPSERT_IF_AT = Plain(UPSERT), Plain(UPSERT_IF_AT)


async def save(session: AsyncSession, *, citizen_id: int, state: State, read_version: int | None = None) -> None:
    """Write the state in one statement (insert, or update of the existing row).

    With `read_version` (the version of the state the turn started from), the update only
    applies to a row still at that version; otherwise `StaleConversation` is raised and the
    transaction must be rolled back.
    """
    params: dict[str, Any] = {
        "citizen_id": citizen_id,
        "flow_id": state.flow_id,
        "flow_version": state.flow_version,
        "step_id": state.step_id,
        "answers": dict(state.answers),
        "history": list(state.history),
        "misses": state.misses,
        "version": state.version,
        "updated_at": state.updated_at,
    }
    if read_version is not None:
        params["read_version"] = read_version
    statement = _UPSERT if read_version is None else _UPSERT_IF_AT
    if not await statement.rows(session, params):
        raise StaleConversation(f"conversation of citizen {citizen_id} moved past version {read_version}")
