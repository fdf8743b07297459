"""A citizen's own effects through the real pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.core import Core
from conversations import Inbound
from storage.models import AuditLog, Citizen, OutboxMessage
from tests.helpers.clock import FakeClock

SENDER = "gianna"


async def _say(core: Core, clock: FakeClock, body: str, n: list[int] = [0]) -> list[str]:  # noqa: B006
    """Send `body`; return the texts of the replies it produced."""
    n[0] += 1
    clock.advance(seconds=5)
    async with core.sessions() as session:
        before = len((await session.execute(select(OutboxMessage.id))).all())
    await core.pipeline.handle(Inbound(channel="test", external_id=f"c{n[0]}", sender=SENDER, received_at=clock.now, text=body))
    async with core.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    return [r.text for r in rows[before:]]


async def _citizen(core: Core) -> Citizen:
    async with core.sessions() as session:
        found = (await session.execute(select(Citizen).where(Citizen.external_id == SENDER))).scalar_one()
        return found


async def test_a_no_after_a_yes_withdraws_the_stored_consent_and_the_next_request_asks_again(core: Core, clock: FakeClock) -> None:
    await _say(core, clock, "/nuovo")
    await _say(core, clock, "sì, va bene")
    assert (await _citizen(core)).consent_version == 1
    await _say(core, clock, "indietro")
    said = await _say(core, clock, "no, preferisco di no")
    assert any("ho tolto il tuo consenso" in t for t in said)
    citizen = await _citizen(core)
    assert citizen.consent_version is None and citizen.consent_at is None
    async with core.sessions() as session:
        actions = (await session.execute(select(AuditLog.action))).scalars().all()
    assert "consent_withdrawn" in actions
    said = await _say(core, clock, "/nuovo")
    assert any("Sei d'accordo?" in t for t in said)  # the notice is asked again


async def test_a_no_without_a_yes_before_records_no_withdrawal(core: Core, clock: FakeClock) -> None:
    await _say(core, clock, "/nuovo")
    said = await _say(core, clock, "non va bene")
    assert any("non registro nulla" in t for t in said)
    assert (await _citizen(core)).consent_version is None
    async with core.sessions() as session:
        actions = (await session.execute(select(AuditLog.action))).scalars().all()
    assert "consent_withdrawn" not in actions
