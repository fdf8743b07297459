"""The monthly summary of the demand: counts by month, comune and category, refilled by the scheduler.

Derived data only (`storage.demand_summary.refresh` rebuilds any month from the needs), so no
foreign keys: a month is replaced as a whole, and nothing here names a person (docs/privacy.md).
`month` is the first day of a local month in `demand_refresh.timezone`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class DemandMonth(SQLModel, table=True):
    """One comune's needs of one category reported in one month, and what became of them."""

    __tablename__ = "demand_month"

    month: date = Field(primary_key=True)
    comune_istat: str = Field(primary_key=True, max_length=6)
    category_slug: str = Field(primary_key=True, max_length=32)
    needs: int
    uncovered: int
    """No cooperative claimed it and none still holds it (no assignment, or all declined)."""
    rated: int
    """How many of them have a satisfaction answer (1-5)."""
    rating_sum: int


class DemandDuration(SQLModel, table=True):
    """How many of a comune's needs of one month took how long to be claimed or resolved.

    `bucket` is a `conversations.durations` bucket (log-spaced hours); only non-empty buckets are
    stored. Kept per comune, not per category: the pages publish one median per territory."""

    __tablename__ = "demand_duration"

    month: date = Field(primary_key=True)
    comune_istat: str = Field(primary_key=True, max_length=6)
    measure: str = Field(primary_key=True, max_length=8)
    """``claim`` (report → taken in charge) or ``resolve`` (report → resolved)."""
    bucket: int = Field(primary_key=True)
    needs: int


class DemandRefresh(SQLModel, table=True):
    """The summary's state (one row, id 1): readers use the summary only for periods it covers."""

    __tablename__ = "demand_refresh"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    timezone: str = Field(max_length=64)
    """The zone its months are local to; another zone in the settings means rebuild."""
    method: int
    """`conversations.durations.METHOD` when it was filled; another means rebuild."""
    covered_until: datetime = utc_field()
    """Every month up to this instant is in the summary (the start of the last refresh)."""
    full_at: datetime = utc_field()
    """When every month was last recomputed (the nightly run)."""
