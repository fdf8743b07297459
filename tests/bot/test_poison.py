"""No message may poison the service (issue 13): whatever a turn meets, the citizen is answered and the channel moves on."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot import dead_letters as dead_letters_module
from bot.app import build_core
from bot.config import AdminSettings
from bot.core import Core
from conversations import Call, Context, Engine, Inbound, Media, MediaKind, State, Turn
from storage.db import create_engine
from storage.models import Citizen, Conversation, DeadLetter, InboundEvent, Need, NeedAttachment, OutboxMessage
from tests.bot.test_pipeline import INTAKE, count, inbound, run_intake
from tests.conftest import make_settings
from tests.conversations.test_fuzz import UNICODE
from tests.helpers.clock import FakeClock

_senders = itertools.count()
AFTER_A_DOCUMENT = ("1", "5", "Spesa per mia madre", "Ravenna", "1", "1", "1")
"""Consent, category, description, comune, urgency, contact, confirm: the intake a document starts."""


async def test_a_document_with_a_mime_type_longer_than_its_column_keeps_the_need(core: Core, clock: FakeClock) -> None:
    """Telegram passes a document's MIME type as the client declared it: 120 characters made every
    confirmation fail on PostgreSQL (varchar(100)), and a file over 2 GiB overflows the size column."""
    mime = "application/" + "x" * 120
    document = Media(MediaKind.DOCUMENT, "BQACAgQAAxkBAAIB", mime, 3 * 2**30)
    await core.pipeline.handle(Inbound("test", "doc", "anna", clock.now, media=(document,)))
    for i, text in enumerate(AFTER_A_DOCUMENT):
        clock.advance(seconds=5)
        await core.pipeline.handle(Inbound("test", f"t{i}", "anna", clock.now, text=text))
    async with core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
        [attachment] = (await session.execute(select(NeedAttachment))).scalars().all()
    assert need.description == "Spesa per mia madre"
    assert (attachment.kind, attachment.ref) == ("document", "BQACAgQAAxkBAAIB")
    assert attachment.content_type is None and attachment.size is None  # unknown rather than wrong


class Exploding:
    """The real engine, except that a message saying "boom" makes the step raise, with the text in the error."""

    def __init__(self, engine: Engine, error: type[Exception] = KeyError) -> None:
        self.engine = engine
        self.error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def step(self, state: State, inbound: Inbound, ctx: Context, call: Call | None = None) -> Turn:
        if inbound.text is not None and "boom" in inbound.text:
            raise self.error(f"cannot read {inbound.text!r}")  # what a careless error message does
        return self.engine.step(state, inbound, ctx, call)


async def outbox_texts(core: Core, recipient: str) -> list[str]:
    async with core.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.text).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def dead_letters(core: Core) -> list[DeadLetter]:
    async with core.sessions() as session:
        return list((await session.execute(select(DeadLetter).order_by(DeadLetter.id))).scalars())


async def conversation_of(core: Core, sender: str) -> tuple[str | None, int]:
    async with core.sessions() as session:
        row = (
            await session.execute(
                select(Conversation.step_id, Conversation.version).join(Citizen).where(Citizen.external_id == sender)
            )
        ).one()
    return row[0], row[1]


async def test_a_turn_that_raises_is_rolled_back_recorded_and_answered_once(
    core: Core, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    core.pipeline.engine = Exploding(core.pipeline.engine)  # type: ignore[assignment]
    await run_intake_until(core, clock, "anna", 4)  # at the description
    before = await conversation_of(core, "anna")
    told_before = len(await outbox_texts(core, "anna"))
    secret = "boom: abito in via Roma 5, citofono Rossi"
    caplog.set_level(logging.INFO)

    handled = await core.pipeline.handle(inbound("poison", secret, sender="anna", clock=clock))
    assert handled.failed and not handled.duplicate and handled.replies == 1
    assert await conversation_of(core, "anna") == before  # the turn was rolled back
    assert (await outbox_texts(core, "anna"))[told_before:] == ["Qualcosa è andato storto: riprova tra poco."]
    [letter] = await dead_letters(core)
    assert (letter.channel, letter.external_id, letter.error) == ("test", "poison", "KeyError")
    assert len(letter.ref) == 8 and letter.at == clock.now
    assert await count(core, InboundEvent, InboundEvent.external_id == "poison") == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert letter.ref in logged and "KeyError" in logged and "Rossi" not in logged and "via Roma" not in logged

    # The provider delivers it again: a duplicate, no second apology, no second dead letter.
    again = await core.pipeline.handle(inbound("poison", secret, sender="anna", clock=clock))
    assert again.duplicate and not again.failed
    assert len(await outbox_texts(core, "anna")) == told_before + 1 and len(await dead_letters(core)) == 1

    # The citizen goes on where they were; nobody else noticed.
    await core.pipeline.handle(inbound("next", "Mia madre ha bisogno della spesa", sender="anna", clock=clock))
    assert (await conversation_of(core, "anna"))[0] == "comune"
    await run_intake(core, clock, sender="bruno")
    assert await count(core, Need) == 1


async def run_intake_until(core: Core, clock: FakeClock, sender: str, steps: int) -> None:
    for i, text in enumerate(INTAKE[:steps]):
        await core.pipeline.handle(inbound(f"{sender}-{i}", text, sender=sender, clock=clock))
        clock.advance(seconds=5)


async def test_an_export_folder_that_cannot_be_written_fails_one_turn_not_the_service(
    db_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    """An OSError is a failed turn, never a database outage (issue 13): before, it stopped Telegram polling."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    admin = AdminSettings(console_names=["boss"], export_dir=blocker / "exports")
    core = await build_core(make_settings(db_url, admin=admin), clock=clock)
    try:
        event = Inbound("console", "export-1", "boss", clock.now, text="/esporta 7g")
        handled = await core.pipeline.handle(event)
        assert handled.failed and (await core.pipeline.handle(event)).duplicate
        [letter] = await dead_letters(core)
        assert letter.error in {"FileExistsError", "NotADirectoryError"}
        assert await outbox_texts(core, "boss") == ["Qualcosa è andato storto: riprova tra poco."]
        await core.pipeline.handle(Inbound("console", "status-1", "boss", clock.now, text="/stato_sistema"))
        assert "Messaggi ricevuti non elaborati nelle ultime 24 ore: 1" in (await outbox_texts(core, "boss"))[-1]
        clock.advance(hours=24, seconds=1)
        await core.pipeline.handle(Inbound("console", "status-2", "boss", clock.now, text="/stato_sistema"))
        assert "Messaggi ricevuti non elaborati nelle ultime 24 ore: 0" in (await outbox_texts(core, "boss"))[-1]
    finally:
        await core.close()


async def test_when_even_the_apology_cannot_be_written_the_dead_letter_still_is(core: Core, clock: FakeClock) -> None:
    core.pipeline.engine = Exploding(core.pipeline.engine)  # type: ignore[assignment]
    calls = 0
    real = dead_letters_module.rows_for

    def broken_rows_for(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise LookupError("no catalog")

    dead_letters_module.rows_for = broken_rows_for  # type: ignore[assignment]
    try:
        handled = await core.pipeline.handle(inbound("poison", "boom", sender="anna", clock=clock))
    finally:
        dead_letters_module.rows_for = real  # type: ignore[assignment]
    assert calls == 1 and handled.failed and handled.replies == 0
    assert [d.error for d in await dead_letters(core)] == ["KeyError"]
    assert await outbox_texts(core, "anna") == []
    assert (await core.pipeline.handle(inbound("poison", "boom", sender="anna", clock=clock))).duplicate


async def test_a_database_outage_is_raised_and_leaves_nothing(core: Core, clock: FakeClock) -> None:
    """A turn that cannot reach the database is not a dead letter: the provider redelivers it."""
    good_bind = core.sessions.kw["bind"]
    broken = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    core.sessions.configure(bind=broken)
    try:
        with pytest.raises(OperationalError):
            await core.pipeline.handle(inbound("m1", "ciao", sender="anna", clock=clock))
    finally:
        core.sessions.configure(bind=good_bind)
        await broken.dispose()
    assert await dead_letters(core) == [] and await count(core, InboundEvent) == 0
    assert not (await core.pipeline.handle(inbound("m1", "ciao", sender="anna", clock=clock))).duplicate


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(UNICODE, min_size=1, max_size=4), at=st.integers(0, len(INTAKE)))
async def test_any_unicode_through_the_pipeline_is_applied_and_answered(
    core: Core, clock: FakeClock, texts: list[str], at: int
) -> None:
    """The engine is fuzzed alone (tests/conversations/test_fuzz.py); here what it keeps must also be storable:
    no NUL for PostgreSQL, no lone surrogate, nothing longer than its column."""
    sender = f"fuzz-{next(_senders)}"
    for i, text in enumerate((*INTAKE[:at], *texts)):
        handled = await core.pipeline.handle(inbound(f"{sender}-{i}", text, sender=sender, clock=clock))
        assert not handled.failed and handled.replies > 0, (text, await dead_letters(core))


async def test_work_after_the_commit_that_raises_leaves_the_turn_applied(core: Core, clock: FakeClock) -> None:
    """A hook runs once the turn committed: its failure is logged, and the rest still run; no dead letter
    claims the turn failed (before, the error reached the channel, which refused to confirm a stored update)."""
    apply = core.pipeline.registry.apply
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("cache")

    async def apply_with_hooks(applying: Any, effect: object) -> None:
        applying.after.extend([broken, lambda: ran.append("next")])
        await apply(applying, effect)

    core.pipeline.registry.apply = apply_with_hooks  # type: ignore[method-assign]
    await core.pipeline.handle(inbound("a0", "ciao", sender="anna", clock=clock))
    handled = await core.pipeline.handle(inbound("a1", "1", sender="anna", clock=clock))
    handled = await core.pipeline.handle(inbound("a2", "1", sender="anna", clock=clock))  # consent: an effect
    assert not handled.failed and not handled.duplicate and ran == ["next"]
    assert await dead_letters(core) == []


def test_a_failure_is_placed_at_the_innermost_line_of_our_own_code() -> None:
    from conversations import small_int

    def ours() -> None:
        small_int(5, 9)  # type: ignore[arg-type]  # raises inside conversations/_text.py

    try:
        ours()
    except AttributeError as exc:
        place = dead_letters_module.where(exc)
    assert place.startswith("conversations/_text.py:"), place
