"""Admin commands (and `/esporta` for operators): parsed, authorised and answered by pure code, by family.

- `reports`: figures, system health, audit tail, operators, cooperatives; `/esporta`.
- `broadcast`: `/annuncio` and its preview.
- `categories`: list, add, rename; `cooperatives` (+ `coop_flow`): show, create, edit, invite, digest now.
- `confirm`: the confirm-only commands as rows (grant, revoke, move, disable, deactivate).
- `common`: what they share (answering, staff flows ending in "Confermi?", spec builders).
"""

from __future__ import annotations

from typing import Final

from conversations.admin import broadcast, categories, confirm, cooperatives, reports
from conversations.admin.broadcast import BROADCAST_FLOW, MAX_BROADCAST_CHARS, broadcast_filters, build_broadcast
from conversations.admin.categories import CATEGORY_FLOW, CATEGORY_SLUG, MAX_CATEGORY_NAME, build_category
from conversations.admin.confirm import ACTIONS, CONFIRM_FLOW, CONFIRMED, Confirmable, Proposal, build_confirm
from conversations.admin.coop_flow import COOP_FLOW, build_cooperative
from conversations.admin.cooperatives import COOP_FIELDS, coop_slug_arg
from conversations.admin.reports import AUDIT_DEFAULT, AUDIT_MAX, audit_size
from conversations.command import CommandSpec

__all__ = [
    "ACTIONS",
    "AUDIT_DEFAULT",
    "AUDIT_MAX",
    "BROADCAST_FLOW",
    "CATEGORY_FLOW",
    "CATEGORY_SLUG",
    "CONFIRMED",
    "CONFIRM_FLOW",
    "COOP_FIELDS",
    "COOP_FLOW",
    "Confirmable",
    "MAX_BROADCAST_CHARS",
    "MAX_CATEGORY_NAME",
    "Proposal",
    "SPECS",
    "audit_size",
    "broadcast_filters",
    "build_broadcast",
    "build_category",
    "build_confirm",
    "build_cooperative",
    "coop_slug_arg",
]

SPECS: Final[tuple[CommandSpec, ...]] = (
    *reports.SPECS,
    *broadcast.SPECS,
    *confirm.SPECS,
    *cooperatives.SPECS,
    *categories.SPECS,
)
"""Each staff command, whole, from every family."""
