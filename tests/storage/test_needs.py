"""A need written by `needs.create`: one INSERT on the plain lane, the same row the ORM would have written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core import Core
from conversations import NeedCreated
from conversations.vocabulary import NeedStatus
from storage import needs
from storage.db import transaction
from storage.models import Need, NeedStatusChange
from tests.helpers.citizens import add_citizen

AT = datetime(2026, 12, 4, 20, 45, 10, 250000, tzinfo=UTC)


def created(ticket: str, need_id: str) -> NeedCreated:
    return NeedCreated(
        need_id=need_id,
        ticket=ticket,
        category="spesa",
        description="Mi serve aiuto per la spesa",
        comune_istat="039014",
        urgency="alta",
        contact_method="chat",
        contact_phone=None,
        location=None,
        media=(),
        at=AT,
    )


@pytest.mark.parametrize("hot", [True, False], ids=["a turn's transaction", "any other"])
async def test_a_need_is_the_row_the_orm_would_have_written(core: Core, hot: bool) -> None:
    """Every column, those the intake does not set included: a default the model declares must not
    become NULL because the INSERT names every column."""
    owner = await add_citizen(core, at=AT)
    async with transaction(core.sessions, on_the_loop=hot) as session:
        await needs.create(session, citizen_id=owner, need=created("K7M42P", "a" * 32))
    expected = Need(
        id="a" * 32,
        ticket="K7M42P",
        citizen_id=owner,
        category_slug="spesa",
        description="Mi serve aiuto per la spesa",
        comune_istat="039014",
        urgency="alta",
        contact_method="chat",
        status=NeedStatus.NEW,
        created_at=AT,
        updated_at=AT,
    )
    async with core.sessions() as session:
        [written] = (await session.execute(select(Need))).scalars().all()
        history = (await session.execute(select(NeedStatusChange.to_status))).scalars().all()
    assert {n: getattr(written, n) for n in Need.model_fields} == {n: getattr(expected, n) for n in Need.model_fields}
    assert history == [NeedStatus.NEW]


async def test_a_ticket_drawn_twice_writes_nothing_and_says_so(core: Core) -> None:
    owner = await add_citizen(core, at=AT)
    async with transaction(core.sessions, on_the_loop=True) as session:
        await needs.create(session, citizen_id=owner, need=created("K7M42P", "a" * 32))
    with pytest.raises(needs.TicketTaken):
        async with transaction(core.sessions, on_the_loop=True) as session:
            await needs.create(session, citizen_id=owner, need=created("K7M42P", "b" * 32))
    async with core.sessions() as session:
        assert (await session.execute(select(Need.id))).scalars().all() == ["a" * 32]
