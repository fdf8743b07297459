"""Issue 7, managing the service from the chat: categories, on-demand digests, admins granted in the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_core
from bot.core import Core
from bot.config import AdminSettings, OperatorsSettings, SchedulerSettings
from storage import reference
from storage.models import Category, DigestRun, Invite, Need, OutboxMessage
from tests.bot.test_admin import ADMIN_ID, audits, send
from tests.bot.test_pipeline import RecordingSender
from tests.conftest import make_settings
from tests.helpers.clock import FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_need, add_operator
from tests.helpers.entropy import seeded


@pytest.fixture
async def core(db_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Core]:
    admin = AdminSettings(console_names=[ADMIN_ID["console"]], export_dir=tmp_path / "exports")
    settings = make_settings(
        db_url,
        admin=admin,
        scheduler=SchedulerSettings(digest_dir=tmp_path / "digests"),
        operators=OperatorsSettings(invite_days=3),
    )
    built = await build_core(settings, clock=clock)
    built.pipeline.entropy = seeded()
    try:
        yield built
    finally:
        await built.pipeline.drain()
        await built.close()


async def _category(core: Core, slug: str) -> Category | None:
    async with core.sessions() as session:
        return await session.get(Category, slug)


async def _offered(core: Core) -> list[str]:
    async with core.sessions() as session:
        return [c.slug for c in await reference.active_categories(session)]


# --- categories ------------------------------------------------------------------


async def test_admin_adds_a_category_with_both_names_after_a_summary(core: Core) -> None:
    await send(core, "cit-1", "ciao")  # the pipeline has the categories cached now
    assert core.pipeline.categories.is_loaded
    [ask] = await send(core, "boss", "/nuova_categoria")
    assert "slug" in ask
    [retry] = await send(core, "boss", "spesa")
    assert "c'è già" in retry
    await send(core, "boss", "Trasporti Pubblici")  # not a slug
    await send(core, "boss", "mobilita")
    await send(core, "boss", "Mobilità e trasporti pubblici")
    [summary] = await send(core, "boss", "Mobility and public transport")
    assert "mobilita" in summary and "Mobility and public transport" in summary and "Confermi" in summary
    assert await _category(core, "mobilita") is None  # nothing before "sì"
    assert await send(core, "boss", "sì") == ["Fatto."]
    cat = await _category(core, "mobilita")
    assert cat is not None and (cat.name_it, cat.name_en, cat.is_active) == ("Mobilità e trasporti pubblici", "Mobility and public transport", True)
    assert (await _offered(core))[-1] == "mobilita"
    assert not core.pipeline.categories.is_loaded  # forgotten after the commit: the intake offers it at once
    assert [a.detail for a in await audits(core, "category_added")] == ["mobilita"]


async def test_rename_keeps_a_name_with_a_dash_and_no_changes_nothing(core: Core) -> None:
    [ask] = await send(core, "boss", "/rinomina_categoria spesa")
    assert "Spesa e beni di prima necessità" in ask
    await send(core, "boss", "-")
    await send(core, "boss", "Groceries")
    await send(core, "boss", "no")
    cat = await _category(core, "spesa")
    assert cat is not None and cat.name_en == "Shopping and essentials"
    await send(core, "boss", "/rinomina_categoria spesa")
    await send(core, "boss", "-")
    await send(core, "boss", "Groceries")
    await send(core, "boss", "si")
    cat = await _category(core, "spesa")
    assert cat is not None and (cat.name_it, cat.name_en) == ("Spesa e beni di prima necessità", "Groceries")
    assert [a.detail for a in await audits(core, "category_renamed")] == ["spesa"]
    assert "Scrivi /rinomina_categoria" in (await send(core, "boss", "/rinomina_categoria nessuna"))[0]


async def test_reorder_moves_one_category_and_keeps_the_others_in_order(core: Core) -> None:
    before = await _offered(core)
    await send(core, "boss", "/sposta_categoria altro 1")
    await send(core, "boss", "sì")
    assert await _offered(core) == ["altro", *(s for s in before if s != "altro")]
    await send(core, "boss", "/sposta_categoria altro 99")
    assert await _offered(core) == ["altro", *(s for s in before if s != "altro")]  # usage, nothing moved
    [listing] = await send(core, "boss", "/categorie")
    assert listing.index("1. altro") < listing.index("2. anziani")
    assert [a.detail for a in await audits(core, "category_moved")] == ["altro 1"]


async def test_disabled_category_is_no_longer_offered_and_needs_keep_it(core: Core, clock: FakeClock) -> None:
    await add_need(core, at=clock.now - timedelta(days=1))
    await send(core, "boss", "/disattiva_categoria spesa")
    await send(core, "boss", "sì")
    assert "spesa" not in await _offered(core)
    async with core.sessions() as session:
        assert list((await session.execute(select(Need.category_slug))).scalars()) == ["spesa"]
    [listing] = await send(core, "boss", "/categorie")
    assert "0. spesa – Spesa e beni di prima necessità / Shopping and essentials – " in listing
    # Once disabled it cannot be disabled or moved again; renaming still works.
    assert "Scrivi /disattiva_categoria" in (await send(core, "boss", "/disattiva_categoria spesa"))[0]
    assert [a.detail for a in await audits(core, "category_disabled")] == ["spesa"]


# --- on-demand digests ---------------------------------------------------------------


async def test_digest_now_is_sent_after_the_commit_to_the_operators(core: Core, clock: FakeClock) -> None:
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia", channel="console")
    await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(days=2))
    await add_need(core, cooperative_ids=(coop,), at=clock.now - timedelta(days=20))  # outside the 7 days
    [reply] = await send(core, "boss", "/digest_ora cantiere")
    assert "Il Cantiere" in reply
    await core.pipeline.drain()
    sender = RecordingSender()
    sender.channel = "console"
    await core.dispatcher({"console": sender}, clock=clock).flush()
    [digest] = [m for m in sender.sent if m.recipient == "lucia"]
    assert "Riepilogo di Il Cantiere" in digest.text
    async with core.sessions() as session:
        [run] = (await session.execute(select(DigestRun))).scalars().all()
    assert run.period_end == clock.now and run.period_start.microsecond == 1  # never a scheduled period's key
    assert run.recipients == 1
    assert [a.cooperative_id for a in await audits(core, "digest_requested")] == [coop]
    # A later request is a new run row, not "already sent".
    clock.advance(minutes=11)
    await send(core, "boss", "/digest_ora cantiere")
    await core.pipeline.drain()
    async with core.sessions() as session:
        assert len((await session.execute(select(DigestRun))).scalars().all()) == 2


async def test_digest_now_twice_in_a_row_sends_one_digest(core: Core, clock: FakeClock) -> None:
    """Issue 15: repeating `/digest_ora` sent three copies. Within `digest_repeat_minutes` it is refused, kindly."""
    coop = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    await add_operator(core, coop, "lucia", channel="console")
    await send(core, "boss", "/digest_ora cantiere")
    clock.advance(minutes=3)
    [again] = await send(core, "boss", "/digest_ora cantiere")
    # START is 9:30 UTC, 10:30 in Rome: the last went then, the next may go from 10:40
    assert "Il Cantiere" in again and "10:30" in again and "10:40" in again
    await core.pipeline.drain()
    async with core.sessions() as session:
        assert len((await session.execute(select(DigestRun))).scalars().all()) == 1
    assert len(await audits(core, "digest_requested")) == 1


async def test_digest_now_for_a_cooperative_without_operators_promises_nothing(core: Core) -> None:
    await add_coop(core, "vuota", comuni=(RAVENNA,), name="La Vuota")
    [reply] = await send(core, "boss", "/digest_ora vuota")
    assert "La Vuota" in reply and "/invito vuota" in reply
    await core.pipeline.drain()
    assert await audits(core, "digest_requested") == []


async def test_digest_now_needs_an_active_cooperative(core: Core) -> None:
    await add_coop(core, "chiusa", comuni=(RAVENNA,), active=False)
    assert "Scrivi /digest_ora" in (await send(core, "boss", "/digest_ora chiusa"))[0]
    assert "Scrivi /digest_ora" in (await send(core, "boss", "/digest_ora"))[0]
    assert await audits(core, "digest_requested") == []


# --- admins granted in the chat, invite validity -------------------------------------


async def test_admins_granted_in_the_chat_hear_about_unrouted_needs(core: Core) -> None:
    await send(core, "boss", "/nomina_admin telegram 555")
    await send(core, "boss", "sì")
    async with core.sessions() as session:
        await core.notifier.tell_admins(session, _unrouted(), core.pipeline.clock())
        await session.commit()
        recipients = set((await session.execute(select(OutboxMessage.recipient).where(OutboxMessage.text.contains("K7M")))).scalars())  # type: ignore[attr-defined]
    assert recipients == {"boss", "555"}


async def test_invite_from_the_chat_lasts_the_configured_days(core: Core, clock: FakeClock) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await send(core, "boss", "/invito cantiere")
    async with core.sessions() as session:
        [invite] = (await session.execute(select(Invite))).scalars().all()
    assert invite.expires_at == clock.now + timedelta(days=3)


def _unrouted() -> object:
    from conversations import notifications

    return notifications.need_unrouted(ticket="K7M42P", category="Spesa", comune="Ravenna", urgency="alta")


async def test_synonyms_set_from_the_chat_reach_the_intake_at_once(core: Core) -> None:
    """Issue 14, rule 4: an admin's words for a category select it at the category question."""
    [ask] = await send(core, "boss", "/sinonimi_categoria trasporto")
    assert "passaggio" in ask  # the seeded words are shown
    await send(core, "boss", "passaggio, navetta")
    assert await send(core, "boss", "sì") == ["Fatto."]
    cat = await _category(core, "trasporto")
    assert cat is not None and cat.words() == ("passaggio", "navetta")
    assert [a.detail for a in await audits(core, "category_synonyms")] == ["trasporto"]
    await send(core, "anna", "/nuovo")
    await send(core, "anna", "sì")
    [retry] = await send(core, "anna", "servono pulmini")
    assert retry.startswith("Non ho capito l'argomento")  # before: no category has that word
    await send(core, "boss", "/sinonimi_categoria trasporto")
    await send(core, "boss", "passaggio, navetta, pulmino")
    await send(core, "boss", "sì")
    [next_question] = await send(core, "anna", "servono pulmini")
    assert next_question.startswith("Raccontami")  # understood by lemma: on to the description
    assert [a.detail for a in await audits(core, "category_synonyms")] == ["trasporto", "trasporto"]
