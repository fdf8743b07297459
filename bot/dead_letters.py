"""Dead letters: an inbound whose turn raised is recorded under its key and the citizen is told once (issue 13).

`Pipeline.handle` rolls the turn back and comes here when the error is not a database outage (an
outage is raised, so the provider redelivers). Recording the inbound's key makes a redelivery a
duplicate, so the same update is never retried for ever and the apology is sent once; the channel
answers its provider as for any stored message and moves on to the next one.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.notify import Recipient, rows_for
from conversations import Inbound, Msg, Reply, Translator
from storage import conversations, inbound, outbox

_ROOT: Final = str(Path(__file__).resolve().parent.parent) + os.sep
"""Where our packages live (the checkout, or site-packages when installed)."""
OUR_PACKAGES: Final = frozenset({"bot", "conversations", "handlers", "storage"})
APOLOGY: Final = Msg("common.turn_failed")


@dataclass(frozen=True, slots=True)
class Failure:
    """What is kept of a failed turn: the inbound's key, the error's class and the log's reference."""

    event: Inbound
    error: str
    ref: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Told:
    duplicate: bool
    replies: int = 0
    citizen_id: int | None = None


async def record(
    session: AsyncSession, failure: Failure, *, translator: Translator | None, language: str, stored: bool = False
) -> Told:
    """The dead letter and the inbound's key; with a `translator`, the citizen row and the apology too.

    `stored`: a message kept for later (`bot/pacing`) whose key was recorded when it arrived.
    """
    event, now = failure.event, failure.at
    citizen, state = None, None
    if translator is not None:
        citizen, state = await conversations.with_citizen(
            session, channel=event.channel, external_id=event.sender, now=now, language=language
        )
    citizen_id = citizen.id if citizen is not None else None
    if not stored and not await inbound.record(
        session, channel=event.channel, external_id=event.external_id, citizen_id=citizen_id, at=now
    ):
        return Told(duplicate=True, citizen_id=citizen_id)
    await inbound.record_failure(
        session, channel=event.channel, external_id=event.external_id, error=failure.error, ref=failure.ref, at=now
    )
    if translator is None or citizen is None or state is None:
        return Told(duplicate=False)
    citizen.last_inbound_at, citizen.is_unreachable = now, False  # they wrote: WhatsApp's window is open
    to = Recipient.of_citizen(citizen)
    rows = rows_for(translator, to=to, reply=Reply(APOLOGY), now=now, conversation_version=state.version)
    await outbox.enqueue_many(session, rows)
    return Told(duplicate=False, replies=1, citizen_id=citizen_id)


def error_name(exc: BaseException) -> str:
    """The class, with the driver's beneath a SQLAlchemy wrapper: ``DBAPIError(StringDataRightTruncationError)``."""
    inner = getattr(exc, "orig", None)
    while isinstance(inner, BaseException) and inner.__cause__ is not None:
        inner = inner.__cause__
    name = type(exc).__name__
    return (f"{name}({type(inner).__name__})" if isinstance(inner, BaseException) else name)[:80]


def where(exc: BaseException) -> str:
    """The innermost line of our own code the error went through, e.g. ``conversations/engine.py:412``."""
    places = [(frame.filename.removeprefix(_ROOT), frame.lineno) for frame in traceback.extract_tb(exc.__traceback__)]
    ours = [f"{path}:{line}" for path, line in places if path.split(os.sep, 1)[0] in OUR_PACKAGES]
    return ours[-1] if ours else "?"
