"""Issue 13: invite codes cannot be guessed in bulk, every refusal leaves a trace, and a revoked operator can come back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.core import Core
from storage import staff
from storage.db import transaction
from storage.models import AuditLog, Operator
from tests.bot.test_operators import invite, last_to
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, say

LIMIT = 5  # [operators] invite_attempts_per_hour, default


async def refusals(core: Core) -> list[tuple[str, str | None]]:
    async with core.sessions() as session:
        rows = await session.execute(
            select(AuditLog.actor, AuditLog.detail).where(AuditLog.action == "invite_refused").order_by(AuditLog.id)
        )
        return [(a, d) for a, d in rows.all()]


async def test_wrong_codes_are_audited_and_lock_the_sender_out_for_an_hour(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await invite(core, coop, code="K7MR4PXA")
    for n in range(LIMIT):
        clock.advance(seconds=2)  # within the turn budget (30 a minute): flood control is not what this tests
        await core.pipeline.handle(say(core, "guesser", f"/operatore AAAA-{n:04d}"))
        assert "non esiste" in await last_to(core, "guesser")
    assert [d for _, d in await refusals(core)] == ["unknown"] * LIMIT
    assert len({a for a, _ in await refusals(core)}) == 1 and (await refusals(core))[0][0].startswith("citizen:")

    # Locked: even the right code is not looked at, and the answer is kind and says what to do.
    for _ in range(295):
        clock.advance(seconds=2)
        await core.pipeline.handle(say(core, "guesser", "/operatore K7MR-4PXA"))
    locked = await last_to(core, "guesser")
    assert "Troppi codici sbagliati" in locked and "un'ora" in locked
    assert [d for _, d in await refusals(core)].count("locked") == 295
    async with core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Operator))).scalar_one() == 0

    # Someone else is not locked out by the guesser.
    await core.pipeline.handle(say(core, "lucia", "/operatore K7MR-4PXA"))
    assert "Ora sei operatore di Il Cantiere" in await last_to(core, "lucia")

    # An hour after the last wrong code the guesser may try again.
    clock.advance(hours=1, seconds=1)
    await invite(core, coop, code="M4RK7PXA")
    await core.pipeline.handle(say(core, "guesser", "/operatore M4RK-7PXA"))
    assert "Ora sei operatore di Il Cantiere" in await last_to(core, "guesser")


async def test_used_and_expired_codes_count_as_failures_too(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await invite(core, coop, code="K7MR4PXA", days=1)
    clock.advance(days=2)
    await core.pipeline.handle(say(core, "late", "/operatore K7MR-4PXA"))
    assert [d for _, d in await refusals(core)] == ["expired"]


async def test_a_revoked_operator_enrols_again_with_a_new_invite(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    other = await add_coop(core, "rete", comuni=(RAVENNA,), name="Rete Romagna")
    await invite(core, coop, code="K7MR4PXA")
    await core.pipeline.handle(say(core, "lucia", "/operatore K7MR-4PXA"))
    async with transaction(core.sessions) as session:
        op_id = (await session.execute(select(Operator.id))).scalar_one()
        assert op_id is not None and await staff.revoke_operator(session, operator_id=op_id)
    await invite(core, other, code="M4RK7PXA")
    await core.pipeline.handle(say(core, "lucia", "/operatore M4RK-7PXA"))
    assert "Ora sei operatore di Rete Romagna" in await last_to(core, "lucia")
    async with core.sessions() as session:
        ops = (await session.execute(select(Operator))).scalars().all()
    assert [(o.cooperative_id, o.is_active) for o in ops] == [(other, True)]
    await core.pipeline.handle(say(core, "lucia", "/richieste"))
    assert "Rete Romagna" in await last_to(core, "lucia")
