"""Citizens: the pipeline finds or creates them with their conversation (`conversations.with_citizen`)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import NO_VALUE
from sqlmodel import col, select

from storage.models import Citizen
from storage.plain import Plain


async def by_identity(session: AsyncSession, *, channel: str, external_id: str) -> Citizen | None:
    """The citizen behind a chat identity, unlocked (for messages we start, not for an inbound)."""
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    found: Citizen | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def get(session: AsyncSession, *, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)


async def mark_unreachable(session: AsyncSession, *, citizen_id: int | None, now: datetime, is_opt_out: bool) -> None:
    """The provider says this chat cannot be reached (blocked bot, unknown number); STOP-like answers opt out too."""
    if citizen_id is not None:
        values: dict[str, object] = {"is_unreachable": True}
        if is_opt_out:
            values["opted_out_at"] = now
        await session.execute(update(Citizen).where(col(Citizen.id) == citizen_id).values(**values))


async def write_changes(session: AsyncSession, citizen: Citizen) -> None:
    """Write what this transaction changed on `citizen` in one UPDATE built once per set of columns.

    Every turn changes a few columns of its citizen (`last_inbound_at`, `paced_until`, …); the
    ORM's flush for that one row cost four times this statement (docs/performance.md, issue 18).
    Afterwards the ORM holds the values as written and the row as clean, so no later flush visits it.
    `InstanceState._commit_all` is SQLAlchemy's own step after a flush (private; SQLAlchemy is pinned
    below 2.1 and tests/bot/test_pipeline.py fails if it stops cleaning the row).
    A citizen not yet in the database (first message) is left to the flush that inserts it.
    """
    state: InstanceState[Citizen] = inspect(citizen, raiseerr=True)
    if state.pending or state.transient or state.deleted or citizen.id is None:
        return
    before = state.committed_state  # the attributes set since the row was read, with their old values
    values: dict[str, Any] = {}
    for key in sorted(before.keys() & _COLUMNS):
        value = getattr(citizen, key)
        if before[key] is NO_VALUE or before[key] != value:
            values[key] = value
    if values:
        await _update(tuple(values)).rows(session, {"citizen_id": citizen.id, **values})
    if before.keys() <= _COLUMNS:
        # Everything set on it is written: clean to the ORM, as after its own flush. Otherwise every
        # later flush (an autoflush, `enqueue_many`'s, the commit's) walks the row to find nothing.
        state._commit_all(state.dict, session.sync_session.identity_map)
    else:
        for key, value in values.items():
            set_committed_value(citizen, key, value)


_TABLE: Any = Citizen.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
_COLUMNS: frozenset[str] = frozenset(c.name for c in _TABLE.c if c.name != "id")


@functools.cache
def _update(columns: tuple[str, ...]) -> Plain:
    return Plain(update(_TABLE).where(_TABLE.c.id == bindparam("citizen_id")).values({c: bindparam(c, type_=_TABLE.c[c].type) for c in columns}))
