"""A province's needs for the public pages' tests: enough to publish, with small counts to hide."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core import Core
from tests.helpers.coops import CERVIA, RAVENNA, RUSSI, add_coop, add_need

# The fake clock reads 23 November 2026 (tests/helpers/clock.py): the last complete month is October.


async def seed(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA, CERVIA), name="Cantiere del Welfare")
    for day in range(1, 13):
        await add_need(core, at=datetime(2026, 10, day, 10, tzinfo=UTC), cooperative_ids=(coop,))  # spesa: 12 (+4 in Cervia, +1 in Russi)
    for day in range(1, 8):
        await add_need(core, at=datetime(2026, 9, day, 10, tzinfo=UTC), category="solitudine")  # uncovered: 7
    for day in range(1, 3):
        await add_need(core, at=datetime(2026, 10, day, 10, tzinfo=UTC), category="casa", comune=CERVIA)  # 2: hidden
    for day in range(1, 5):
        await add_need(core, at=datetime(2026, 10, day, 11, tzinfo=UTC), comune=CERVIA, cooperative_ids=(coop,))
    await add_need(core, at=datetime(2026, 10, 3, 10, tzinfo=UTC), comune=RUSSI)  # 1 in a small comune
