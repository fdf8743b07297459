"""Issue 14 through the pipeline: the models loaded once per process, a need told at once, another language."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot import suggest
from bot.app import build_core
from bot.core import Core
from bot.suggest import Suggester
from storage.models import Citizen, InboundEvent
from sqlalchemy import func, select
from tests.bot.test_admin import send
from tests.conftest import make_settings
from tests.helpers.categories import seeded
from tests.helpers.clock import FakeClock
from tests.helpers.entropy import seeded as seeded_entropy

DESCRIPTIONS = Path(__file__).resolve().parents[1] / "data" / "descriptions_it.tsv"


@pytest.fixture
async def core(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    built = await build_core(make_settings(sqlite_url), clock=clock)
    built.pipeline.entropy = seeded_entropy()
    try:
        yield built
    finally:
        await built.close()


async def test_the_english_speaker_of_the_issue_reads_english_from_the_first_reply(core: Core) -> None:
    replies = await send(core, "john", "Hello, I need help please. I don't speak Italian.")
    assert len(replies) == 2 and replies[0].startswith("Hello! I am Ascolto")
    assert "I will write to you in English" in replies[1] and "Italiano" in replies[1]
    assert not any("Non ho capito" in r for r in replies)
    [menu] = (await send(core, "john", "yes"))[1:]
    assert menu.startswith("What would you like to do?")
    async with core.sessions() as session:
        language = await session.scalar(select(Citizen.language).where(Citizen.external_id == "john"))
    assert language == "en"


async def test_a_need_told_at_once_is_suggested_by_the_model_and_kept(core: Core) -> None:
    replies = await send(core, "maria", "mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia")
    assert replies[0].startswith("Ciao! Sono Ascolto") and "Sei d'accordo?" in replies[1]
    [question] = await send(core, "maria", "sì")
    assert question.startswith("Mi sembra che riguardi «Solitudine e compagnia». È così?")
    [comune] = await send(core, "maria", "si")
    assert comune.startswith("In quale comune?")


async def test_the_model_is_loaded_once_per_process(sqlite_url: str, clock: FakeClock) -> None:
    first = await build_core(make_settings(sqlite_url), clock=clock)
    second = await build_core(make_settings(sqlite_url), clock=clock)
    try:
        assert first.pipeline.suggester is not None and second.pipeline.suggester is not None
        assert suggest.e5() is suggest.e5()  # one model for every core of the process
    finally:
        await first.close()
        await second.close()


def test_the_model_suggests_well_enough_on_the_corpus() -> None:
    """Generous bounds on `python -m bench understanding`'s figures (docs/performance.md): a model
    that lost its weights or its category phrases falls far below them."""
    rows = [line.split("\t") for line in DESCRIPTIONS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    categories, suggester = seeded(), Suggester()
    top1 = shown = right = 0
    for gold, _, text in rows:
        top1 += suggester.scores(categories, text)[0][0] == gold
        offered = suggester.suggest(categories, text)
        shown += bool(offered)
        right += bool(offered) and offered[0][0] == gold
    assert len(rows) >= 200
    assert top1 / len(rows) > 0.6
    assert shown / len(rows) > 0.5 and right / shown > 0.75


async def test_the_model_works_off_the_event_loop_and_the_turn_keeps_its_answer(core: Core) -> None:
    """A description costs the model 20-35 ms of CPU, its first one half a second more: every other
    chat would wait on a model run on the loop. Here the model takes 0.3 s; the loop keeps ticking."""
    real = suggest.e5()

    def slow() -> suggest.Embed:
        def embed(texts: Sequence[str]) -> suggest.Vectors:
            time.sleep(0.3)  # holds its thread as the model's C code does (it lets the GIL go)
            return real(texts)

        return embed

    assert core.pipeline.suggester is not None
    core.pipeline.suggester = Suggester(slow)
    ticks = [0]

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks[0] += 1

    running = asyncio.create_task(ticker())
    try:
        replies = await send(core, "maria", "mia mamma ha 90 anni e si sente sola, avrebbe bisogno di compagnia")
    finally:
        running.cancel()
    assert ticks[0] >= 15, f"the loop ticked {ticks[0]} times in 0.3 s of model work"
    assert "Sei d'accordo?" in replies[1]
    [question] = await send(core, "maria", "sì")
    assert question.startswith("Mi sembra che riguardi «Solitudine e compagnia». È così?")  # the same answer as without the wait
    async with core.sessions() as session:  # one turn written, though it ran twice
        assert await session.scalar(select(func.count()).select_from(InboundEvent)) == 2
