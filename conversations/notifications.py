"""Messages to people other than the sender (operators, admins, citizens), built as pure values."""

from __future__ import annotations

from datetime import datetime

from conversations.messages import Msg, Reply
from conversations.operator import claim_options


def need_routed(*, ticket: str, category: str, comune: str, urgency: str, description: str) -> Reply:
    """To each operator of a matching cooperative: what is needed and where, no contact details yet."""
    return Reply(
        Msg(
            "notify.new_need",
            {
                "ticket": ticket,
                "category": category,
                "comune": comune,
                "urgency": Msg(f"urgency.{urgency}"),
                "description": description,
            },
        ),
        options=claim_options(ticket),
    )


def need_unrouted(*, ticket: str, category: str, comune: str, urgency: str) -> Reply:
    """To admins: no active cooperative covers this comune and category."""
    return Reply(
        Msg("notify.unrouted", {"ticket": ticket, "category": category, "comune": comune, "urgency": Msg(f"urgency.{urgency}")})
    )


def all_declined(*, ticket: str, category: str, comune: str) -> Reply:
    return Reply(Msg("notify.all_declined", {"ticket": ticket, "category": category, "comune": comune}))


def taken_by_other(*, ticket: str, cooperative: str) -> Reply:
    return Reply(Msg("notify.taken_by_other", {"ticket": ticket, "cooperative": cooperative}))


def citizen_claimed(*, ticket: str, cooperative: str) -> Reply:
    return Reply(Msg("notify.citizen_claimed", {"ticket": ticket, "cooperative": cooperative}))


def citizen_status(*, ticket: str, status: str) -> Reply:
    """The citizen hears about every status change, without the operator's internal note."""
    return Reply(Msg(f"notify.citizen_{status}", {"ticket": ticket}))


def reminder(*, ticket: str, category: str, comune: str, since: datetime, hours: int) -> Reply:
    return Reply(
        Msg("notify.reminder", {"ticket": ticket, "category": category, "comune": comune, "date": since, "hours": hours}),
        options=claim_options(ticket),
    )


def escalation(*, ticket: str, category: str, comune: str, since: datetime, hours: int) -> Reply:
    return Reply(
        Msg("notify.escalation", {"ticket": ticket, "category": category, "comune": comune, "date": since, "hours": hours})
    )


def transferred_in(
    *, ticket: str, cooperative: str, reason: str, category: str, comune: str, urgency: str, description: str
) -> Reply:
    """To the operators of the cooperative a need was passed to: it is theirs now, and why."""
    return Reply(
        Msg(
            "notify.transferred_in",
            {
                "ticket": ticket,
                "cooperative": cooperative,
                "reason": reason,
                "category": category,
                "comune": comune,
                "urgency": Msg(f"urgency.{urgency}"),
                "description": description,
            },
        )
    )


def citizen_transferred(*, ticket: str, cooperative: str) -> Reply:
    return Reply(Msg("notify.citizen_transferred", {"ticket": ticket, "cooperative": cooperative}))


def citizen_reopened(*, ticket: str) -> Reply:
    return Reply(Msg("notify.citizen_reopened", {"ticket": ticket}))


def coop_reopened(*, ticket: str) -> Reply:
    """To the holding cooperative: the citizen said at the follow-up that it did not get resolved."""
    return Reply(Msg("notify.coop_reopened", {"ticket": ticket}))


def coop_closed(*, ticket: str, answer: str) -> Reply:
    """To the holding cooperative: the citizen closed the need at the follow-up (``no`` or ``da_sola``)."""
    return Reply(Msg(f"notify.coop_closed_{answer}", {"ticket": ticket}))


def coop_rated(*, ticket: str, score: int, comment: str | None) -> Reply:
    """To the holding cooperative: the citizen's score and, when they wrote one, their comment."""
    said: object = Msg("notify.coop_rated_comment", {"comment": comment}) if comment else ""
    return Reply(Msg("notify.coop_rated", {"ticket": ticket, "score": score, "comment": said}))
