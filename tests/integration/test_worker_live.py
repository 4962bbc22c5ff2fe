"""What the worker tells the rest of the war room: the live snapshot, the history files, and a
summary that can be read while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import redis

from common.settings import Settings
from ingest.contract import format_cents
from ingest.history import read_summary
from ingest.worker import run_worker
from rehearsal.malformed import malformed_payloads
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from tests.checks import assert_history_matches_truth, assert_matches_truth
from tests.conftest import wait_for
from tests.sample import SAMPLE, TRUTH, reference_peak, reference_per_second


def snapshot(client: redis.Redis, settings: Settings) -> dict:
    raw = client.get(settings.snapshot_key)
    return json.loads(raw) if raw else {}


def test_the_snapshot_carries_the_nights_totals(redis_client: redis.Redis,
                                               settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    live = snapshot(redis_client, settings)
    assert live["version"] == 2 and live["gmv"] == TRUTH["gmv"]
    assert live["orders"] == TRUTH["accepted"]
    assert (live["rejected"], live["duplicates"]) == (TRUTH["rejected"], TRUTH["duplicates"])
    assert {d: {"gmv": v["gmv"], "orders": v["orders"]} for d, v in live["by_device"].items()} \
        == TRUTH["by_device"]
    assert abs(sum(v["share_now"] for v in live["by_device"].values()) - 1) < 0.01
    assert len(live["series"]["orders"]) == 300 and live["lag_ms"] == 0
    assert time.time() * 1000 - live["heartbeat_ms"] < 10_000
    peak_ops, peak_ms = reference_peak()
    assert (live["peak_ops"], live["peak_second_ms"]) == (peak_ops, peak_ms)
    # The series is the last five minutes of event time, per second, by the reference fates.
    start_s = live["series"]["start_ms"] // 1000
    assert live["series"]["orders"] == [reference_per_second()[start_s + i] for i in range(300)]
    assert len(live) < 60 and len(json.dumps(live)) < 20_000  # small: every viewer reads it
    # The summary file and the history files say the same.
    assert_matches_truth(read_summary(settings.data_dir))
    assert_history_matches_truth(settings.data_dir)


def test_the_night_document_adds_up_to_the_headline(redis_client: redis.Redis,
                                                    settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    live = snapshot(redis_client, settings)
    night = json.loads(redis_client.get(settings.night_key) or b"{}")
    gmv_cents = live["gmv_cents"]
    assert night["cumulative_gmv_cents"][-1] == gmv_cents
    assert sum(night["orders"]) + night["orders_before"] == TRUTH["accepted"]
    assert sum(v["gmv_cents"] for v in night["by_region"].values()) == gmv_cents
    assert sum(v["gmv_cents"] for v in night["by_category"].values()) == gmv_cents
    assert sum(sum(series) for series in night["devices"].values()) == sum(night["orders"])
    # Milestones in order of time, each crossed by the cumulative curve at its minute.
    crossed = [m["yuan"] for m in night["milestones"]]
    assert crossed == [10**k for k in range(6, 6 + len(crossed))] and crossed
    assert [m["second_ms"] for m in night["milestones"]] == \
        sorted(m["second_ms"] for m in night["milestones"])
    for milestone in night["milestones"]:
        minute = (milestone["second_ms"] - night["start_ms"]) // 60_000
        assert night["cumulative_gmv_cents"][minute] >= milestone["yuan"] * 100
    merchants = list(night["top_merchants"].values())
    assert len(merchants) == 10 and merchants[0]["gmv_cents"] >= merchants[-1]["gmv_cents"]
    # Just drained: it counted within the last ten seconds, and could have gone faster.
    assert live["ingest_eps"] > 0 and live["capacity_eps"] > 0


def test_the_stream_is_trimmed_only_below_what_is_committed(redis_client: redis.Redis,
                                                           settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    assert redis_client.xlen(settings.orders_stream) <= 1
    assert_matches_truth(read_summary(settings.data_dir))
    assert_history_matches_truth(settings.data_dir)


def test_summary_and_heartbeat_while_the_worker_runs(redis_client: redis.Redis,
                                                     settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    cli = [sys.executable, "-m", "gmv.cli"]
    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    worker = subprocess.Popen([*cli, "ingest", "-q", *where])
    try:
        wait_for(lambda: snapshot(redis_client, settings).get("orders") == TRUTH["accepted"], 90,
                 "the worker never caught up")
        # The history files follow within seconds (they are what `gmv summary` reads now).
        wait_for(lambda: read_summary(settings.data_dir)["orders"] == TRUTH["accepted"], 60,
                 "the summary file never caught up")
        # An idle worker still beats at least four times a second, by its own clock.
        first = snapshot(redis_client, settings)
        wait_for(lambda: snapshot(redis_client, settings)["seq"] >= first["seq"] + 8, 30,
                 "the heartbeat stopped")
        beat = snapshot(redis_client, settings)
        per_s = (beat["seq"] - first["seq"]) / ((beat["heartbeat_ms"] - first["heartbeat_ms"]) / 1000)
        assert per_s >= 4
        out = subprocess.run([*cli, "summary", "--json", *where], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert_matches_truth(json.loads(out.stdout))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert worker.returncode == 0


def test_the_files_follow_a_burst_that_ends_between_two_publications(
        redis_client: redis.Redis, settings: Settings) -> None:
    """Orders arriving while the worker runs, then silence: the summary and the manifest (what
    `gmv summary`, /api/summary and the review read) follow at once, not at the next compaction
    (the last commit of a burst came within a second of the previous publication: it waited
    ~30 s)."""
    cli = [sys.executable, "-m", "gmv.cli"]
    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    worker = subprocess.Popen([*cli, "ingest", "-q", *where])
    try:
        wait_for(lambda: bool(redis_client.get(settings.snapshot_key)), 60, "the worker never beat")
        replay(SAMPLE, redis_client, settings, speed=None, retime=False)
        wait_for(lambda: snapshot(redis_client, settings).get("orders") == TRUTH["accepted"], 90,
                 "the worker never caught up")
        # Within a few of the worker's idle polls (a tenth of a second each): far below a
        # compaction's wait.
        wait_for(lambda: read_summary(settings.data_dir)["orders"] == TRUTH["accepted"], 10,
                 "the summary lags behind the live snapshot")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_ten_thousand_malformed_payloads_never_touch_gmv(redis_client: redis.Redis,
                                                         settings: Settings,
                                                         order_factory) -> None:
    rng = np.random.default_rng(5)
    noise = [rng.bytes(int(n)) for n in rng.integers(0, 300, 2_000)]
    bad = malformed_payloads(rng, 8_000, "bad") + noise
    good = [order_factory(amount_cents=int(c)) for c in rng.integers(1, 10**6, 100)]
    payloads = bad[:5_000] + [o.to_payload() for o in good] + bad[5_000:]
    StreamPublisher(redis_client, settings.orders_stream).publish(payloads)
    run_worker(redis_client, settings, until_idle=True)
    live = snapshot(redis_client, settings)
    assert live["gmv"] == format_cents(sum(o.amount_cents for o in good))
    assert live["orders"] == 100 and live["rejected"] == 10_000 and live["duplicates"] == 0
    assert redis_client.xlen(settings.dead_letter_stream) == 10_000
