"""The flows Ascolto speaks, each a module of data."""

from __future__ import annotations

from conversations.flows import intake, menu

__all__ = ["intake", "menu"]
