"""The digest job with controlled time: periods from the schedule, figures by hand, runs sent once across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_core
from bot.config import SchedulerSettings
from bot.core import Core
from bot.jobs.digest import latest_period, send_digest
from conversations import Translator
from conversations.digest import Count, render
from storage import digests
from storage.models import Cooperative, DigestRun, Need, OutboxMessage
from tests.conftest import make_settings
from tests.helpers.clock import START, FakeClock
from tests.helpers.coops import CERVIA, RAVENNA, add_coop, add_need, add_operator

MON = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # Monday 8:00 in Rome: the digest period starts here
END = MON + timedelta(days=7)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def texts_to(core: Core, recipient: str) -> list[str]:
    async with core.sessions() as session:
        rows = await session.execute(select(OutboxMessage.text).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id))
        return list(rows.scalars())


# --- periods -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "now", "expected"),
    [
        pytest.param("0 8 * * mon", START, (MON, END), id="weekly-just-after-the-run"),
        pytest.param("0 8 * * mon", END - timedelta(seconds=1), (MON - timedelta(days=7), MON), id="weekly-just-before"),
        pytest.param(
            "30 7 1 * *", START, (datetime(2026, 10, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)), id="monthly-across-dst"
        ),
    ],
)
def test_latest_period_comes_from_the_schedule_not_from_the_run_time(cron: str, now: datetime, expected: tuple[datetime, datetime]) -> None:
    assert latest_period(cron, "Europe/Rome", now) == expected


# --- digest figures ------------------------------------------------------------


@pytest.fixture
async def digest_world(core: Core) -> tuple[int, dict[str, Need]]:
    coop = await add_coop(core, "cantiere", categories=("spesa", "anziani"), comuni=(RAVENNA, CERVIA), name="Il Cantiere")
    other = await add_coop(core, "altra", comuni=(RAVENNA,))
    mk = add_need
    n = {
        "o1": await mk(core, cooperative_ids=(coop,), category="anziani", at=datetime(2026, 10, 20, 10, tzinfo=UTC)),
        "p1": await mk(core, cooperative_ids=(coop,), at=at(10), status="risolta", claimed_by=coop,
                       claimed_after=timedelta(hours=1), resolved_after=timedelta(days=8)),
        "p2": await mk(core, cooperative_ids=(coop,), at=at(11)),
        "c1": await mk(core, cooperative_ids=(coop,), urgency="alta", at=at(17), status="risolta", claimed_by=coop,
                       claimed_after=timedelta(hours=2), resolved_after=timedelta(hours=30)),
        "c2": await mk(core, cooperative_ids=(coop,), urgency="alta", at=at(18), status="presa_in_carico", claimed_by=coop,
                       claimed_after=timedelta(hours=4)),
        "c3": await mk(core, cooperative_ids=(coop,), urgency="alta", at=at(19)),
        "c4": await mk(core, cooperative_ids=(coop,), comune=CERVIA, at=at(20)),
        "c5": await mk(core, cooperative_ids=(coop,), category="anziani", urgency="bassa", at=at(21),
                       status="presa_in_carico", claimed_by=coop, claimed_after=timedelta(hours=9)),
        "x1": await mk(core, cooperative_ids=(coop,), at=END),  # the next period
        "y1": await mk(core, cooperative_ids=(other,), at=at(17)),  # another cooperative's
    }
    return coop, n


async def test_digest_figures_match_the_hand_computed_ones(core: Core, digest_world: tuple[int, dict[str, Need]]) -> None:
    coop_id, n = digest_world
    async with core.sessions() as session:
        coop = await session.get(Cooperative, coop_id)
        assert coop is not None
        f = await digests.figures(session, cooperative=coop, period_start=MON, period_end=END)
    assert (f.total, f.previous_total, f.unclaimed) == (5, 2, 4)
    assert [(c.key, c.count, c.previous, c.baseline) for c in f.by_category] == [("spesa", 4, 2, 2), ("anziani", 1, 0, 1)]
    assert [(c.key, c.count) for c in f.by_urgency] == [("alta", 3), ("media", 1), ("bassa", 1)]
    assert [(c.label, c.count, c.previous, c.baseline) for c in f.by_comune] == [("Ravenna", 4, 2, 3), ("Cervia", 1, 0, 0)]
    assert [o.ticket for o in f.oldest_open] == [n[k].ticket for k in ("o1", "p2", "c2", "c3", "c4")]
    assert f.median_claim_hours == pytest.approx(4.0)  # 2 h, 4 h, 9 h
    assert f.median_resolve_hours == pytest.approx(111.0)  # (30 h + 192 h) / 2


def test_emerging_rule_needs_twice_the_mean_and_three_needs() -> None:
    from conversations.digest import is_emerging

    assert is_emerging(Count("a", "a", 4, baseline=2))  # mean 0.5
    assert is_emerging(Count("a", "a", 3, baseline=0))
    assert not is_emerging(Count("a", "a", 2, baseline=0))  # too few to call a trend
    assert not is_emerging(Count("a", "a", 7, baseline=16))  # mean 4: 7 < 8
    assert is_emerging(Count("a", "a", 8, baseline=16))


async def test_digest_reads_in_italian(core: Core, translator: Translator, digest_world: tuple[int, dict[str, Need]]) -> None:
    coop_id, _ = digest_world
    async with core.sessions() as session:
        coop = await session.get(Cooperative, coop_id)
        assert coop is not None
        f = await digests.figures(session, cooperative=coop, period_start=MON, period_end=END)
    text = translator.render(render(f, local_start=MON.date(), local_end=(END - timedelta(days=1)).date()), "it").text
    assert "Riepilogo di Il Cantiere\ndal 16 novembre 2026 al 22 novembre 2026" in text
    # Every count of a breakdown goes through small-count protection (conversations/disclosure.py).
    assert "Richieste ricevute: 5. Il confronto con il periodo prima non si mostra: in uno dei due ci sono meno di 5 richieste." in text
    assert "• Spesa e beni di prima necessità: < 5" in text and "• Urgente, entro 1-2 giorni: < 5" in text
    assert "• Ravenna: < 5" in text and "Bisogni in crescita" not in text  # 4 in Ravenna: emerging, but too few to say
    assert "• Spesa e beni di prima necessità: 4" not in text
    assert "Richieste ancora da prendere in carico: 4" in text
    assert "Tempo mediano per la presa in carico: 4 ore" in text and "Tempo mediano per risolvere: 4,6 giorni" in text


async def test_with_the_lowest_threshold_the_digest_shows_counts_of_three_and_hides_their_complements(
    core: Core, translator: Translator, digest_world: tuple[int, dict[str, Need]]
) -> None:
    coop_id, _ = digest_world
    async with core.sessions() as session:
        coop = await session.get(Cooperative, coop_id)
        assert coop is not None
        f = await digests.figures(session, cooperative=coop, period_start=MON, period_end=END)
    text = translator.render(render(f, local_start=MON.date(), local_end=(END - timedelta(days=1)).date(), threshold=3), "it").text
    assert "• Urgente, entro 1-2 giorni: 3" in text  # 3, 1, 1: the two ones hide each other
    assert "• Spesa e beni di prima necessità: n.d." in text and "• Assistenza domiciliare e anziani: < 3" in text
    assert "• Ravenna: n.d." in text and "Bisogni in crescita" not in text  # its 4 would give Cervia's 1 away


# --- digest runs -----------------------------------------------------------------


@pytest.fixture
def digest_dir(tmp_path: Path) -> Path:
    return tmp_path / "digests"


@pytest.fixture
async def core_with_dir(db_url: str, clock: FakeClock, digest_dir: Path) -> AsyncIterator[Core]:
    built = await build_core(make_settings(db_url, scheduler=SchedulerSettings(digest_dir=digest_dir)), clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def test_digest_is_queued_once_with_its_chart(core_with_dir: Core, digest_dir: Path) -> None:
    core = core_with_dir
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    await add_need(core, cooperative_ids=(coop,), at=at(17))
    first = await send_digest(core, coop, START)
    again = await send_digest(core, coop, START + timedelta(hours=1))
    assert (first.outcome, first.recipients, again.outcome) == ("sent", 1, "already")
    async with core.sessions() as session:
        [row] = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "lucia"))).scalars().all()
        runs = (await session.execute(select(DigestRun))).scalars().all()
    assert row.attachment_type == "image/png" and row.attachment_path is not None
    assert Path(row.attachment_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [(r.period_start, r.period_end, r.recipients) for r in runs] == [(MON, END, 1)]


async def test_restart_mid_period_sends_nothing_until_the_next_period(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    assert (await send_digest(core, coop, START)).outcome == "sent"
    # the process restarts on Tuesday: the same period, already recorded; on Thursday it is too old anyway
    assert (await send_digest(core, coop, START + timedelta(days=1))).outcome == "already"
    assert (await send_digest(core, coop, START + timedelta(days=3))).outcome == "late"
    nxt = await send_digest(core, coop, END + timedelta(days=7, minutes=1))
    assert (nxt.outcome, nxt.period_start) == ("sent", END)
    assert len(await texts_to(core, "lucia")) == 2


async def test_missed_runs_are_caught_up_once_not_once_per_slot(core: Core) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    # down from Sunday 15 to Tuesday 1 December: the Monday runs of the 16th... 30th were missed
    back = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    results = [await send_digest(core, coop, back + timedelta(minutes=m)) for m in (0, 1, 2)]
    assert [r.outcome for r in results] == ["sent", "already", "already"]
    assert results[0].period_end == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    # a period that ended longer ago than digest_catch_up_hours is not sent late
    assert (await send_digest(core, coop, datetime(2026, 12, 3, 9, tzinfo=UTC))).outcome == "late"


async def test_two_schedulers_on_one_database_send_one_digest(core: Core, db_url: str, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await add_operator(core, coop, "lucia")
    other = await build_core(make_settings(db_url), clock=clock)
    try:
        results = await asyncio.gather(send_digest(core, coop, START), send_digest(other, coop, START))
    finally:
        await other.close()
    assert sorted(r.outcome for r in results) == ["already", "sent"]
    async with core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(DigestRun))).scalar_one() == 1
    assert len(await texts_to(core, "lucia")) == 1
