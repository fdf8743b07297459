"""The monthly summary of the demand: counts by month, comune and category, refilled by the scheduler.

Derived data only (`storage.demand_summary.refresh` rebuilds any month from the needs), so no
foreign keys: a month is replaced as a whole, and nothing here names a person (docs/privacy.md).
`month` is the first day of a local month in `demand_refresh.timezone`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import Column, Date, Integer, String, Table
from sqlmodel import Field, SQLModel

from conversations.durations import BUCKETS
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


MEASURES: Final = ("claim", "resolve")
"""``claim``: report → taken in charge; ``resolve``: report → resolved."""


def bucket_column(measure: str, bucket: int) -> str:
    """``claim_05``: how many needs took a duration in bucket 5 to be claimed."""
    return f"{measure}_{bucket:02d}"


DEMAND_DURATION: Final = Table(
    "demand_duration",
    SQLModel.metadata,
    Column("month", Date(), primary_key=True),
    Column("comune_istat", String(6), primary_key=True),
    *(Column(bucket_column(m, k), Integer(), nullable=False) for m in MEASURES for k in range(BUCKETS)),
)
"""How many of a comune's needs of one month took how long to be claimed and resolved, one column a
`conversations.durations` bucket (log-spaced hours). Per comune, not per category: the pages publish
one median per territory. A row per month and comune (not per bucket) keeps a region's year at a
couple of thousand rows, summed column by column in one statement. A table, not a model: its 64
columns follow the buckets."""


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
