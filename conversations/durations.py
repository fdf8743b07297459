"""Durations kept as counts in fixed buckets, and the median read back from them (pure).

The public pages show a median time to take charge and to resolve over a territory and a year.
Reading it from the needs means sorting every need of the period (seconds at a million needs);
the monthly summary (`storage.demand_summary`) keeps instead, per month and comune, how many
needs took how long in log-spaced buckets. Buckets add up across comuni and months, so any
territory's histogram is a SUM, and its median is estimated inside the bucket that holds it.

Precision: the estimate lies in the bucket of the exact median's middle need(s), so it is off by
at most that bucket's width: 15 minutes under a quarter of an hour, then each bucket is √2 times
the one before (a width of 41% of its lower edge, e.g. 16–22.6 hours). Needs spread inside a
bucket, so the error is usually far smaller. Past 8,192 hours (341 days) the last bucket has no
upper edge and the estimate is its lower edge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

FIRST_EDGE_HOURS: Final = 0.25
EDGES_HOURS: Final = tuple(FIRST_EDGE_HOURS * 2 ** (k / 2) for k in range(31))
"""Upper edges of the buckets, in hours: 0.25, 0.35, 0.5, 0.71, 1, … 8192. Bucket k holds durations in
[EDGES_HOURS[k-1], EDGES_HOURS[k]); bucket 0 starts at zero; the last one (31) has no upper edge.
Changing them means a new `METHOD` (the summary is then rebuilt before it is read) and, if their number
changes, a migration: `demand_duration` has one column a bucket."""
BUCKETS: Final = len(EDGES_HOURS) + 1
METHOD: Final = 1
"""The version of the buckets above, stored with the summary (`demand_refresh.method`)."""


def bucket_of(hours: float) -> int:
    """The bucket of a duration; a negative one (a clock put back) counts as zero."""
    for k, edge in enumerate(EDGES_HOURS):
        if hours < edge:
            return k
    return len(EDGES_HOURS)


def bounds(bucket: int) -> tuple[float, float]:
    """[lower, upper) of a bucket in hours; the last bucket's upper edge is infinite."""
    lower = 0.0 if bucket == 0 else EDGES_HOURS[bucket - 1]
    upper = EDGES_HOURS[bucket] if bucket < len(EDGES_HOURS) else math.inf
    return lower, upper


def median_hours(histogram: Mapping[int, int]) -> float | None:
    """The median of the durations counted in `histogram` (bucket → needs); None when it is empty.

    Each rank is placed evenly inside its bucket (the i-th of f needs at (i + 0.5) / f of the
    width), and the median is the middle rank, or the mean of the two middle ranks, as
    `statistics.median` does on the exact values: the estimate is then never further from the
    exact median than the width of the bucket(s) holding the middle need(s).
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    return (_at_rank(histogram, (total - 1) // 2) + _at_rank(histogram, total // 2)) / 2


def _at_rank(histogram: Mapping[int, int], rank: int) -> float:
    below = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count > 0 and rank < below + count:
            lower, upper = bounds(bucket)
            if math.isinf(upper):
                return lower
            return lower + (rank - below + 0.5) / count * (upper - lower)
        below += max(count, 0)
    raise ValueError(f"rank {rank} beyond the histogram")  # cannot happen: rank < total
