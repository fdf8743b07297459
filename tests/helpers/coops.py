"""Small factories for cooperatives, operators and needs, written straight to the database."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from bot.core import Core
from conversations import Inbound, NeedStatus, TerritoryKind
from storage import cooperatives, operators
from storage.cooperatives import CooperativeSpec
from storage.db import transaction
from storage.models import Citizen, Need, NeedAssignment

RAVENNA, CERVIA, RUSSI, FORLI, BOLOGNA = "039014", "039007", "039016", "040012", "037006"
_ids = itertools.count(1)


async def add_coop(
    core: Core,
    slug: str,
    *,
    categories: tuple[str, ...] = ("spesa",),
    comuni: tuple[str, ...] = (),
    province: tuple[str, ...] = (),
    regioni: tuple[str, ...] = (),
    cron: str = "0 8 * * mon",
    active: bool = True,
    name: str | None = None,
) -> int:
    territory = (
        tuple((TerritoryKind.COMUNE, c) for c in comuni)
        + tuple((TerritoryKind.PROVINCIA, p) for p in province)
        + tuple((TerritoryKind.REGIONE, r) for r in regioni)
    )
    spec = CooperativeSpec(
        slug=slug, name=name or f"Coop {slug}", categories=categories, territory=territory, digest_cron=cron, is_active=active
    )
    async with transaction(core.sessions) as session:
        row, _ = await cooperatives.upsert(session, spec=spec, now=core.pipeline.clock())
    assert row.id is not None
    return row.id


async def add_operator(core: Core, cooperative_id: int, external_id: str, *, channel: str = "test") -> int:
    async with transaction(core.sessions) as session:
        op = await operators.enrol(
            session,
            cooperative_id=cooperative_id,
            channel=channel,
            external_id=external_id,
            citizen_id=None,
            role="operatore",
            language="it",
            now=core.pipeline.clock(),
        )
    assert op.id is not None
    return op.id


async def add_need(
    core: Core,
    *,
    cooperative_ids: tuple[int, ...] = (),
    category: str = "spesa",
    comune: str = RAVENNA,
    urgency: str = "media",
    at: datetime,
    status: str = NeedStatus.NEW,
    claimed_by: int | None = None,
    claimed_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
    citizen: str | None = None,
) -> Need:
    """A need as the pipeline would leave it, with optional claim and resolution times."""
    n = next(_ids)
    async with transaction(core.sessions) as session:
        citizen_id = None
        if citizen is not None:
            row = Citizen(channel="test", external_id=citizen, created_at=at, consent_version=1)
            session.add(row)
            await session.flush()
            citizen_id = row.id
        need = Need(
            id=f"need{n:028d}",
            ticket=f"T{n:02d}-{n:03d}"[-7:],
            citizen_id=citizen_id,
            category_slug=category,
            description="Mi serve aiuto",
            comune_istat=comune,
            urgency=urgency,
            contact_method="telefono",
            contact_phone="+393331234567",
            status=status,
            created_at=at,
            updated_at=at,
            claimed_by_cooperative_id=claimed_by,
            claimed_at=at + claimed_after if claimed_after is not None else None,
            resolved_at=at + resolved_after if resolved_after is not None else None,
            closed_at=at + resolved_after if resolved_after is not None else None,
        )
        session.add(need)
        await session.flush()
        for coop in cooperative_ids:
            session.add(NeedAssignment(need_id=need.id, cooperative_id=coop, routed_at=at))
    return need


def say(core: Core, sender: str, text: str, *, n: list[int] = [0], choice: str | None = None) -> Inbound:  # noqa: B006
    n[0] += 1
    return Inbound(
        channel="test",
        external_id=f"{sender}-{n[0]}",
        sender=sender,
        received_at=core.pipeline.clock(),
        text=None if choice else text,
        choice=choice,
    )
