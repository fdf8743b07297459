"""Issue 13: an operator's notes are read only by the cooperative that holds the need."""

from __future__ import annotations

from bot.core import Core
from tests.bot.test_operators import last_to, the_need
from tests.bot.test_pipeline import run_intake
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator, say

NOTE = "Ho chiamato la signora Maria Rossi, citofono 3B"
STATUS_NOTE = "parlato con il figlio Giorgio"


async def test_only_the_holding_cooperative_reads_history_and_notes(core: Core, clock: FakeClock) -> None:
    near = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    wide = await add_coop(core, "rete", province=("RA",), name="Rete Romagna")
    other = await add_coop(core, "altra", province=("RA",), name="Altra Coop")
    await add_operator(core, near, "lucia")
    await add_operator(core, wide, "pietro")
    await add_operator(core, other, "sara")
    await run_intake(core, clock, sender="anna")
    t = (await the_need(core)).ticket
    await core.pipeline.handle(say(core, "sara", f"/declino {t}"))
    await core.pipeline.handle(say(core, "lucia", f"/prendo {t}"))
    await core.pipeline.handle(say(core, "lucia", f"/nota {t} {NOTE}"))
    await core.pipeline.handle(say(core, "lucia", f"/stato {t} in corso {STATUS_NOTE}"))

    await core.pipeline.handle(say(core, "lucia", f"/richiesta {t}"))
    ours = await last_to(core, "lucia")
    assert NOTE in ours and STATUS_NOTE in ours

    for who in ("pietro", "sara"):  # offered it and lost the claim; declined it
        await core.pipeline.handle(say(core, who, f"/richiesta {t}"))
        theirs = await last_to(core, who)
        assert f"Richiesta {t}" in theirs and "Il Cantiere" in theirs, theirs
        assert "Maria Rossi" not in theirs and "3B" not in theirs and "Giorgio" not in theirs, theirs
        assert "solo la cooperativa che la segue" in theirs, theirs
