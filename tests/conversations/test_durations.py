"""Durations in buckets: the median read back from them is within a bucket's width of the exact median."""

from __future__ import annotations

import math
import statistics
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.durations import BUCKETS, EDGES_HOURS, bounds, bucket_of, median_hours


def _width(hours: float) -> float:
    lower, upper = bounds(bucket_of(hours))
    return upper - lower


hours = st.one_of(
    st.floats(0, 8000, allow_nan=False),  # anything up to the last closed bucket
    st.integers(0, 400).map(float),  # whole hours, as many real claims are
    st.sampled_from([0.0, 0.1, 2.0, 24.0, 48.0, 72.0]),  # many equal values
)


@settings(max_examples=300, deadline=None)
@given(st.lists(hours, min_size=1, max_size=200))
def test_the_median_from_buckets_is_within_the_width_of_the_middle_needs_bucket(durations: list[float]) -> None:
    ordered = sorted(durations)
    n = len(ordered)
    exact = statistics.median(ordered)
    estimate = median_hours(Counter(bucket_of(d) for d in ordered))
    assert estimate is not None
    allowed = max(_width(ordered[(n - 1) // 2]), _width(ordered[n // 2]))
    assert abs(estimate - exact) <= allowed + 1e-9, (estimate, exact, allowed)


def test_buckets_cover_every_duration_once_and_grow_by_root_two() -> None:
    assert BUCKETS == 32 and EDGES_HOURS[0] == 0.25 and EDGES_HOURS[-1] == 8192
    assert all(math.isclose(b / a, math.sqrt(2)) for a, b in zip(EDGES_HOURS, EDGES_HOURS[1:], strict=False))
    assert bucket_of(0) == 0 and bucket_of(-3) == 0 and bucket_of(0.2499) == 0 and bucket_of(0.25) == 1
    assert bucket_of(1.0) == 5 and bounds(5) == (1.0, EDGES_HOURS[5])
    assert bucket_of(10_000) == BUCKETS - 1 and bounds(BUCKETS - 1)[1] == math.inf
    for k in range(BUCKETS):
        lower, upper = bounds(k)
        assert bucket_of(lower) == k and (math.isinf(upper) or bucket_of(upper) == k + 1)


def test_known_medians() -> None:
    assert median_hours({}) is None
    assert median_hours({bucket_of(3.0): 1}) == sum(bounds(bucket_of(3.0))) / 2  # one need: its bucket's middle
    # 24 hours (bucket [22.6, 32)) for most needs: the estimate stays in that bucket.
    estimate = median_hours(Counter([bucket_of(24.0)] * 9 + [bucket_of(1.0)] * 4))
    assert estimate is not None and 22.6 < estimate < 32
    # Past 341 days the last bucket has no upper edge: its lower edge is the estimate.
    assert median_hours({BUCKETS - 1: 3}) == EDGES_HOURS[-1]
