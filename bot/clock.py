"""The real clock; everything that reads time takes a clock like this one, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
