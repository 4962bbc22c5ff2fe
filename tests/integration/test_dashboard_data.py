"""What the dashboard reads from the history files: the review's answers, its exports, and last
year's curve, against a real store filled by the real worker."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis

from common.settings import Settings
from dashboard.data.history import History, night_curve
from dashboard.data.review import ReviewQuery, answer, chart_series, to_csv, to_parquet, totals
from ingest.worker import run_worker
from rehearsal.publish import StreamPublisher
from rehearsal.recordings import read_recording
from rehearsal.replay import replay, retimed
from tests.conftest import MIDNIGHT_MS
from tests.sample import SAMPLE, TRUTH

NIGHT = ReviewQuery(MIDNIGHT_MS - 3_600_000, MIDNIGHT_MS + 3_600_000, "minute")
YEAR_MS = 365 * 86_400_000  # 2025-11-11 is 365 days before 2026-11-11


@pytest.fixture()
def counted(redis_client: redis.Redis, settings: Settings) -> Settings:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    return settings


def test_the_review_of_the_whole_night_adds_up_to_the_truth(counted: Settings) -> None:
    history = History(counted.data_dir)
    for query in (NIGHT, ReviewQuery(NIGHT.start_ms, NIGHT.end_ms, "second", "region")):
        orders, gmv = totals(answer(history, query))
        assert (orders, gmv) == (TRUTH["accepted"], int(Decimal(TRUTH["gmv"]) * 100))


def test_exports_are_exact_to_the_cent(counted: Settings) -> None:
    table = answer(History(counted.data_dir), ReviewQuery(NIGHT.start_ms, NIGHT.end_ms, "minute",
                                                          "device"))
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    by_device: dict[str, Decimal] = {}
    for row in rows:
        by_device[row["value"]] = by_device.get(row["value"], Decimal(0)) + Decimal(row["gmv"])
    assert {d: str(v) for d, v in by_device.items()} == \
        {d: t["gmv"] for d, t in TRUTH["by_device"].items()}
    parquet = pq.read_table(io.BytesIO(to_parquet(table)))
    assert str(parquet.schema.field("gmv").type) == "decimal128(20, 2)"
    assert sum(parquet["gmv"].to_pylist()) == Decimal(TRUTH["gmv"])
    assert str(parquet.schema.field("bucket_start").type) == "timestamp[ms, tz=Asia/Shanghai]"


def test_chart_series_keep_the_largest_values_and_fill_gaps(counted: Settings) -> None:
    table = answer(History(counted.data_dir), ReviewQuery(NIGHT.start_ms, NIGHT.end_ms, "minute",
                                                          "region"))
    series = chart_series(table, "orders", top_values=3)
    by_region: dict[str, list[int]] = {}
    for row in table.to_pylist():
        pair = by_region.setdefault(row["value"], [0, 0])
        pair[0] += int(row["gmv_cents"])
        pair[1] += row["orders"]
    top = sorted(by_region, key=lambda v: -by_region[v][0])[:3]
    assert set(series) == {"bucket_ms", *top}
    assert all(len(v) == len(series["bucket_ms"]) for v in series.values())
    assert {v: sum(series[v]) for v in top} == {v: by_region[v][1] for v in top}


@pytest.mark.parametrize(("query", "message"), [
    (lambda: ReviewQuery(2, 1), "ends before"),
    (lambda: ReviewQuery(0, 86_400_000, "second"), "too many points"),
    (lambda: ReviewQuery(0, 1, "minute", "colour"), "unknown dimension"),
])
def test_impossible_questions_are_refused_with_a_reason(query, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        query()


def test_last_years_night_is_aligned_on_its_own_midnight(redis_client: redis.Redis,
                                                        settings: Settings, tmp_path: Path) -> None:
    last_year = settings.replace(data_dir=tmp_path / "last-year")
    publisher = StreamPublisher(redis_client, last_year.orders_stream)
    for payloads in read_recording(SAMPLE):
        publisher.publish(retimed(payloads, -YEAR_MS))
    run_worker(redis_client, last_year, until_idle=True)
    history = History(last_year.data_dir)
    assert history.festival_midnight_ms() == MIDNIGHT_MS - YEAR_MS
    curve = night_curve(history)
    assert curve is not None
    minutes, cumulative = curve
    assert minutes[0] < 0 < minutes[-1] < 15  # the sample runs from 23:58 to about 00:08
    assert cumulative[-1] == int(Decimal(TRUTH["gmv"]) * 100)
    assert cumulative == sorted(cumulative)
