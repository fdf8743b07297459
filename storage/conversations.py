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
from typing import Any, cast

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from conversations import State
from storage.models import Citizen, Conversation, as_loaded
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
    read = _citizen_read(session.bind is not None and session.bind.dialect.name == "postgresql")
    identity = {"channel": channel, "external_id": external_id}
    found = await read.rows(session, identity)
    if not found:
        citizen = Citizen(channel=channel, external_id=external_id, language=language, created_at=now)
        try:
            async with session.begin_nested():
                session.add(citizen)
        except IntegrityError:
            found = await read.rows(session, identity)
        else:
            return citizen, State()
    [row] = found
    split = len(_CITIZEN_COLUMNS)
    return _held(session, dict(zip(_CITIZEN_KEYS, row[:split], strict=True))), _state(
        dict(zip(_STATE_NAMES, row[split:], strict=True))
    )


_CITIZEN_TABLE: Any = Citizen.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
_CITIZEN_COLUMNS: tuple[Any, ...] = tuple(_CITIZEN_TABLE.c)
_CITIZEN_KEYS: tuple[str, ...] = tuple(c.key for c in _CITIZEN_COLUMNS)
_STATE_NAMES: tuple[str, ...] = tuple(c.name for c in STATE_COLUMNS)
_CITIZEN_MAPPER: Any = inspect(Citizen)


@functools.cache
def _citizen_read(lock: bool) -> Plain:
    """`with_citizen`'s query, built once, its columns plain (the plain lane on SQLite): the ORM's
    select of the entity cost ~4× the same row read as values and made an instance here (issue 18)."""
    query = (
        select(*_CITIZEN_COLUMNS, *STATE_COLUMNS)
        .outerjoin(TABLE, TABLE.c.citizen_id == _CITIZEN_TABLE.c.id)
        .where(_CITIZEN_TABLE.c.channel == bindparam("channel"), _CITIZEN_TABLE.c.external_id == bindparam("external_id"))
    )
    # PostgreSQL: the citizen locked for the turn; not the conversation (the nullable side of the outer join).
    return Plain(query.with_for_update(of=_CITIZEN_TABLE) if lock else query)


def _held(session: AsyncSession, columns: dict[str, Any]) -> Citizen:
    """The citizen of `columns` (a row just read), persistent in `session` as if its query had loaded it.

    Made as SQLAlchemy's loader makes a row's instance (`models.as_loaded`), then
    `make_transient_to_detached` and `add`: SQLAlchemy's public way to "look as if it were
    loaded, without emitting SQL". Changes to it are tracked as on a loaded row
    (`citizens.write_changes`). An instance the session already holds is returned as the ORM's
    query would return it.
    """
    held = session.sync_session.identity_map.get(_CITIZEN_MAPPER.identity_key_from_primary_key((columns["id"],)))
    if held is not None:
        return cast(Citizen, held)
    citizen = as_loaded(Citizen, columns)
    make_transient_to_detached(citizen)
    session.add(citizen)
    return citizen


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
