"""How the review cuts a range: whole buckets from the rollups, the edges from the orders, and
which buckets a chart must call partial."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.data.review import ReviewQuery, partial_buckets
from dashboard.data.rollups import split_range

M = 60_000


@pytest.mark.parametrize(("start", "end", "grain", "inner", "edges"), [
    (0, 10 * M, 60, (0, 600), []),                                    # whole minutes
    (30_000, 10 * M, 60, (60, 600), [(30_000, M)]),                    # cut at the start
    (0, 10 * M + 500, 1, (0, 600), [(10 * M, 10 * M + 500)]),          # cut inside a second
    (1_500, 61_500, 60, None, [(1_500, 61_500)]),                      # no whole minute inside
    (59_000, 181_000, 60, (60, 180), [(59_000, M), (180_000, 181_000)]),
])
def test_a_range_is_whole_buckets_and_finer_edges(start: int, end: int, grain: int,
                                                  inner: tuple[int, int] | None,
                                                  edges: list[tuple[int, int]]) -> None:
    assert split_range(start, end, grain) == (inner, edges)


def test_the_last_bucket_of_a_night_still_filling_is_partial() -> None:
    query = ReviewQuery(0, 10 * M, "minute")
    assert partial_buckets(query, None) == []
    assert partial_buckets(query, 10 * M - 1000) == []          # the last second is in
    assert partial_buckets(query, 7 * M + 20_000) == [7 * M]     # 00:07:20, still filling
    assert partial_buckets(ReviewQuery(30_000, 10 * M, "minute"), None) == [0]
    assert partial_buckets(ReviewQuery(0, 3_600_000 + 1, "hour"), None) == [3_600_000]


def test_questions_the_review_refuses() -> None:
    with pytest.raises(ValueError, match="merchants per second"):
        ReviewQuery(0, 2 * 3_600_000, "second", "merchant")
    with pytest.raises(ValueError, match="coarser resolution"):
        ReviewQuery(0, 86_400_000, "second")
    assert ReviewQuery(0, 86_400_000, "hour", "merchant").bucket_s == 3600


def test_a_dimension_sent_by_the_browser_is_checked_before_any_query(tmp_path: Path) -> None:
    from dashboard.data.history import History

    with pytest.raises(ValueError, match="unknown dimension"):
        History(tmp_path).orders(0, 60_000, "region = region OR 1", "x")
    with pytest.raises(ValueError, match="unknown dimension"):
        History(tmp_path).drill("colour", "red", 0, 60_000, 60)
