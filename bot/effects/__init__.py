"""Effects by registry: each effect type of `conversations` has one handler here, grouped by domain.

`build_registry` is called once by the composition root with everything the handlers need;
`Registry.apply` is the only place an effect is dispatched on its type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from bot.background import Background
from bot.effects import operators
from bot.effects.admin import AdminEffects
from bot.effects.base import Applying, Conflict, Handler, Registry, UnhandledEffect, effect_types
from bot.effects.broadcasts import BroadcastEffects
from bot.effects.citizens import CitizenEffects
from bot.effects.cooperatives import CooperativeEffects
from bot.effects.digests import DigestEffects, DigestSender
from bot.effects.exports import ExportEffects
from bot.effects.handover import HandoverEffects
from bot.effects.needs import NeedEffects
from bot.effects.threads import ThreadEffects
from bot.effects.voice import VoiceEffects
from bot.notify import Notifier
from bot.roles import Roles

__all__ = [
    "Applying",
    "Conflict",
    "Handler",
    "Registry",
    "UnhandledEffect",
    "Wiring",
    "build_registry",
    "effect_types",
]


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the handlers are built with; the composition root fills it from the settings."""

    notifier: Notifier
    roles: Roles
    background: Background = field(default_factory=Background)
    fetch_media: frozenset[str] = frozenset()
    """Channels whose media are downloaded after the commit (``[whatsapp] download_media``)."""
    wake_media: Callable[[], None] = _nothing
    wake_voice: Callable[[], None] = _nothing
    sweep_media: Callable[[], Awaitable[object]] | None = None
    forget_exports: Callable[[Collection[str]], object] | None = None
    categories_changed: Callable[[], None] = _nothing
    send_digest: DigestSender | None = None
    invite_days: int = 7
    export_dir: Path = Path("var/exports")


def build_registry(w: Wiring) -> Registry:
    return Registry(
        (
            *CitizenEffects(w.background, w.sweep_media, w.notifier.translator.languages, w.forget_exports).handlers(),
            *NeedEffects(w.notifier, fetch_media=w.fetch_media, wake_media=w.wake_media).handlers(),
            *operators.handlers(),
            *AdminEffects(invite_days=w.invite_days, categories_changed=w.categories_changed).handlers(),
            *CooperativeEffects(w.notifier).handlers(),
            *HandoverEffects(w.notifier).handlers(),
            *BroadcastEffects(w.notifier.translator).handlers(),
            *ExportEffects(w.notifier, export_dir=w.export_dir).handlers(),
            *DigestEffects(w.background, w.send_digest).handlers(),
            *ThreadEffects(w.notifier).handlers(),
            *VoiceEffects(w.wake_voice).handlers(),
        ),
        w.roles,
    )
