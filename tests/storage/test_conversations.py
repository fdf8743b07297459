"""A turn's first read, `conversations.with_citizen`: the citizen as the ORM would load it, held by the
session, and the conversation state, in one statement (on the plain lane in a turn on SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from sqlalchemy import inspect, select

from bot.core import Core
from conversations import State
from storage import citizens, conversations
from storage.db import transaction
from storage.models import Citizen

AT = datetime(2026, 12, 4, 22, 50, 5, 125000, tzinfo=UTC)

hot = pytest.mark.parametrize("hot", [True, False], ids=["a turn's transaction", "any other"])


async def _a_citizen_in_a_conversation(core: Core) -> int:
    async with transaction(core.sessions) as session:
        citizen, state = await conversations.with_citizen(session, channel="telegram", external_id="42", now=AT)
        assert state == State() and citizen.id is not None  # new: inserted by the ORM
        citizen.consent_version = 2
        citizen.last_inbound_at = AT
        await session.flush()
        saved = State(
            flow_id="intake", flow_version=3, step_id="where", answers={"category": "spesa"}, history=("what",),
            misses=1, version=4, updated_at=AT,
        )  # fmt: skip
        await conversations.save(session, citizen_id=citizen.id, state=saved)
        return citizen.id


@hot
async def test_the_citizen_read_is_the_row_as_the_orm_loads_it_held_by_the_session(core: Core, hot: bool) -> None:
    citizen_id = await _a_citizen_in_a_conversation(core)
    async with core.sessions() as session:
        loaded = (await session.execute(select(Citizen).where(Citizen.id == citizen_id))).scalar_one()
        expected = {name: getattr(loaded, name) for name in Citizen.model_fields}
    async with transaction(core.sessions, on_the_loop=hot) as session:
        citizen, state = await conversations.with_citizen(session, channel="telegram", external_id="42", now=AT)
        assert {name: getattr(citizen, name) for name in Citizen.model_fields} == expected
        assert inspect(citizen).persistent and citizen in session
        assert state.step_id == "where" and state.answers == MappingProxyType({"category": "spesa"})
        assert (state.history, state.misses, state.version, state.updated_at) == (("what",), 1, 4, AT)
        # Changed as a turn changes it: tracked, and written by the turn's one UPDATE.
        citizen.last_inbound_at = AT + timedelta(minutes=5)
        citizen.paced_until = AT + timedelta(minutes=1)
        await citizens.write_changes(session, citizen)
        assert not session.dirty
    async with core.sessions() as session:
        again = await session.get(Citizen, citizen_id)
        assert again is not None
        assert (again.last_inbound_at, again.paced_until, again.consent_version) == (
            AT + timedelta(minutes=5),
            AT + timedelta(minutes=1),
            2,
        )


@hot
async def test_a_citizen_the_session_already_holds_is_the_instance_returned(core: Core, hot: bool) -> None:
    """As the ORM's query would: one instance a row in a session, whatever read it first."""
    citizen_id = await _a_citizen_in_a_conversation(core)
    async with transaction(core.sessions, on_the_loop=hot) as session:
        held = await session.get(Citizen, citizen_id)
        citizen, _ = await conversations.with_citizen(session, channel="telegram", external_id="42", now=AT)
        assert citizen is held
        citizen.language = "en"
        await citizens.write_changes(session, citizen)
    async with core.sessions() as session:
        again = await session.get(Citizen, citizen_id)
        assert again is not None and again.language == "en"
