"""A stand-in for the pipeline behind an adapter: records what it is handed, or fails like a database that is down."""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations import Inbound


@dataclass(frozen=True)
class Stored:
    duplicate: bool = False
    failed: bool = False


@dataclass
class RecordingSink:
    """An `InboundSink`: `failing` makes it raise, as the pipeline does when nothing was committed."""

    events: list[Inbound] = field(default_factory=list)
    failing: bool = False

    async def handle(self, event: Inbound) -> Stored:
        if self.failing:
            raise ConnectionError("database down")
        self.events.append(event)
        return Stored()
