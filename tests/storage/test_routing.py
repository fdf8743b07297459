"""Routing by territory and category, and claims that only one cooperative can win."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import Core
from storage import routing
from storage.db import transaction
from storage.models import Need
from tests.helpers.clock import START
from tests.helpers.coops import BOLOGNA, CERVIA, FORLI, RAVENNA, add_coop, add_need, add_operator

CASES = [
    pytest.param(RAVENNA, "spesa", {"comune-ra", "prov-ra", "region-er", "ra-and-cervia"}, id="comune-in-several-territories"),
    pytest.param(CERVIA, "spesa", {"prov-ra", "region-er", "ra-and-cervia"}, id="province-wide-territory"),
    pytest.param(FORLI, "spesa", {"region-er"}, id="other-province-same-region"),
    pytest.param(BOLOGNA, "casa", set(), id="category-nobody-serves"),
    pytest.param("058091", "spesa", set(), id="outside-every-territory"),
]


async def _coops(core: Core) -> dict[int, str]:
    ids = {
        await add_coop(core, "comune-ra", comuni=(RAVENNA,)): "comune-ra",
        await add_coop(core, "prov-ra", province=("RA",)): "prov-ra",
        await add_coop(core, "region-er", regioni=("Emilia-Romagna",)): "region-er",
        await add_coop(core, "ra-and-cervia", comuni=(RAVENNA, CERVIA)): "ra-and-cervia",
        await add_coop(core, "other-category", categories=("lavoro",), comuni=(RAVENNA, BOLOGNA)): "other-category",
        await add_coop(core, "inactive", province=("RA", "FC", "BO"), active=False): "inactive",
    }
    return ids


@pytest.mark.parametrize(("comune", "category", "expected"), CASES)
async def test_need_goes_to_every_active_cooperative_covering_comune_and_category(
    core: Core, comune: str, category: str, expected: set[str]
) -> None:
    names = await _coops(core)
    async with core.sessions() as session:
        found = await routing.matching_cooperatives(session, comune_istat=comune, category=category)
    assert {names[i] for i in found} == expected


async def test_concurrent_claims_have_exactly_one_winner(core: Core) -> None:
    coop_ids = [await add_coop(core, f"c{i}", comuni=(RAVENNA,)) for i in range(4)]
    op_ids = [await add_operator(core, c, f"op{i}") for i, c in enumerate(coop_ids)]
    need = await add_need(core, cooperative_ids=tuple(coop_ids), at=START)

    async def claim(coop: int, op: int) -> bool:
        async with transaction(core.sessions) as session:  # a session, a connection, a transaction each
            return await routing.claim(session, need_id=need.id, cooperative_id=coop, operator_id=op, at=START)

    results = await asyncio.gather(*(claim(c, o) for c, o in zip(coop_ids, op_ids, strict=True)))
    assert sorted(results) == [False, False, False, True]
    async with core.sessions() as session:
        row = await session.get(Need, need.id)
    assert row is not None and row.status == "presa_in_carico"
    assert row.claimed_by_cooperative_id == coop_ids[results.index(True)]
    async with core.sessions() as session:
        history = await routing.history(session, need_id=need.id)
    assert [h[1] for h in history] == ["presa_in_carico"]


async def test_status_change_from_a_stale_status_changes_nothing(core: Core) -> None:
    coop = await add_coop(core, "c", comuni=(RAVENNA,))
    need = await add_need(core, cooperative_ids=(coop,), at=START, status="in_corso", claimed_by=coop)
    async with transaction(core.sessions) as session:
        assert not await routing.change_status(
            session, need_id=need.id, from_status="presa_in_carico", to_status="risolta", actor="operator:1", note=None, at=START
        )
        assert await routing.change_status(
            session, need_id=need.id, from_status="in_corso", to_status="risolta", actor="operator:1", note=None, at=START
        )
    async with core.sessions() as session:
        row = await session.get(Need, need.id)
    assert row is not None and row.resolved_at == START and row.closed_at == START
