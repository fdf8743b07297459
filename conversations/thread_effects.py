"""The effects of a need's thread: the cooperative and the citizen write to each other, the citizen withdraws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CooperativeWrote:
    """``/scrivi K7M-R4P Passiamo domani alle 10``: the holding cooperative writes to the citizen."""

    need_id: str
    ticket: str
    operator_id: int
    cooperative_id: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CitizenWrote:
    """The citizen writes to the cooperative of their need, or adds information to it (`is_info`)."""

    need_id: str
    ticket: str
    text: str
    at: datetime
    is_info: bool = False


@dataclass(frozen=True, slots=True)
class ThreadOpened:
    """The citizen's plain messages go to this need's cooperative until `until` ("Scrivi alla cooperativa")."""

    need_id: str
    until: datetime


@dataclass(frozen=True, slots=True)
class ThreadClosed:
    """The citizen ended the conversation with the cooperative (FINE)."""

    need_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class WaitingShown:
    """Cooperative messages held behind WhatsApp's template were shown; the conversation stays open until `until`."""

    message_ids: tuple[int, ...]
    need_id: str
    until: datetime


@dataclass(frozen=True, slots=True)
class NeedWithdrawn:
    """``/ritira K7M-R4P``, confirmed: the citizen no longer needs it; the cooperative is told."""

    need_id: str
    ticket: str
    from_status: str
    at: datetime
