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


@pytest.mark.parametrize(("end", "key"), [(5 * M, "range_empty"), (4 * M, "range_backward")])
def test_the_review_and_the_report_refuse_a_range_by_one_rule(end: int, key: str) -> None:
    """Equal ends are an empty range, on the page and in `gmv report` alike (the report said
    'ends before it starts')."""
    from datetime import date

    from dashboard.data.ranges import RangeOrder
    from dashboard.data.report import asked_span
    from dashboard.format import beijing_text, text
    from dashboard.params import review_query

    start = 5 * M
    refusals = []
    for ask in (lambda: asked_span(start, end),
                lambda: review_query(beijing_text(start), beijing_text(end), "minute", None,
                                     date(1970, 1, 1)),
                lambda: ReviewQuery(start, end)):
        with pytest.raises(RangeOrder) as refused:
            ask()
        refusals.append((refused.value.key, str(refused.value)))
    assert refusals == [(key, text("en", key))] * 3


def test_a_range_outside_the_night_is_said_where_the_data_lies() -> None:
    from dashboard.data.ranges import RangeNote, night_of, outside_night

    night = night_of((10 * M + 250, 20 * M + 999))  # orders from 00:10:00.250 to 00:20:00.999
    assert night == (10 * M, 20 * M + 1000)
    assert outside_night(20 * M + 1000, 30 * M, night) == RangeNote("range_after_night", 20 * M)
    assert outside_night(0, 10 * M, night) == RangeNote("range_before_night", 10 * M)
    assert outside_night(20 * M, 30 * M, night) is None  # holds the last second
    assert outside_night(0, 10 * M + 1, night) is None
    assert outside_night(0, M, None) == RangeNote("range_no_data", None)
    assert RangeNote("range_after_night", 0).said("zh") == "此时段还没有订单：数据截至 1970-01-01 08:00:00"
