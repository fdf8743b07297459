"""Conversation state: read before a step, written after it, in the pipeline's transaction."""

from __future__ import annotations

from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import State
from storage.models import Conversation


async def load(session: AsyncSession, *, citizen_id: int) -> State:
    row = await session.get(Conversation, citizen_id)
    if row is None:
        return State()
    return State(
        flow_id=row.flow_id,
        flow_version=row.flow_version,
        step_id=row.step_id,
        answers=MappingProxyType(dict(row.answers)),
        history=tuple(row.history),
        misses=row.misses,
        version=row.version,
        updated_at=row.updated_at,
    )


async def save(session: AsyncSession, *, citizen_id: int, state: State) -> None:
    row = await session.get(Conversation, citizen_id)
    if row is None:
        row = Conversation(citizen_id=citizen_id)
        session.add(row)
    row.flow_id = state.flow_id
    row.flow_version = state.flow_version
    row.step_id = state.step_id
    row.answers = dict(state.answers)
    row.history = list(state.history)
    row.misses = state.misses
    row.version = state.version
    row.updated_at = state.updated_at
