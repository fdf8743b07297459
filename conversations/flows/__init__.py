"""The flows Ascolto speaks, each a module of data."""

from __future__ import annotations

from conversations.flows import followup, intake, menu

__all__ = ["followup", "intake", "menu"]
