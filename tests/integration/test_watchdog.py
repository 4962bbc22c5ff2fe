"""The watchdog, outside the worker: a missing heartbeat and a worker behind its stream, raised
and resolved through the lifecycle, kept in their own file and merged into `gmv alerts`."""

from __future__ import annotations

import json
import subprocess
import sys

import redis

from common.settings import Settings
from ingest.detect.watchdog import HEARTBEAT_MISSING_MS, Watchdog
from ingest.snapshot import now_ms
from ingest.worker import run_worker
from rehearsal.publish import StreamPublisher


def states(dog: Watchdog) -> dict[str, str]:
    return {a.kind: a.state for a in dog.book.alerts}


def test_no_worker_then_a_worker_then_a_silent_one(redis_client: redis.Redis, settings: Settings,
                                                   order_factory) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(
        [order_factory().to_payload() for _ in range(100)])
    dog = Watchdog(redis_client, settings)
    start = dog.started_ms
    assert dog.check(start + 1_000) == [] and states(dog) == {"stream_lag": "pending"}
    # Orders waiting and no heartbeat at all: no worker is running.
    (fired,) = dog.check(start + HEARTBEAT_MISSING_MS + 500)
    assert fired.kind == "heartbeat_missing" and fired.severity == "critical"
    (lagging,) = dog.check(start + 6_500)  # nothing committed for five seconds
    assert lagging.kind == "stream_lag" and "committed nothing" in lagging.message

    run_worker(redis_client, settings, until_idle=True)  # beats, commits everything
    beat = now_ms()
    assert dog.check(beat) == []
    resolved = dog.check(beat + 3_000) + dog.check(beat + 4_000)  # calm for long enough
    assert [a.kind for a in resolved] == ["heartbeat_missing"]
    assert [a.kind for a in dog.check(beat + 12_000) if a.state == "resolved"] == ["stream_lag"]
    # The worker stopped beating twelve seconds ago: missing again, a new alert.
    assert states(dog)["heartbeat_missing"] == "firing"
    assert [a.state for a in dog.book.alerts if a.kind == "heartbeat_missing"] == \
        ["resolved", "firing"]

    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    out = subprocess.run([sys.executable, "-m", "gmv.cli", "alerts", "--json", *where],
                         capture_output=True, text=True, timeout=60)
    printed = json.loads(out.stdout)
    assert [a["kind"] for a in printed].count("heartbeat_missing") == 2
    assert {"kind", "severity", "start", "end", "dimension", "message"} <= printed[0].keys()
    feed = json.loads(redis_client.get(settings.pipeline_alerts_key) or b"{}")["alerts"]
    assert feed[0]["kind"] == "heartbeat_missing" and feed[0]["end"] is None
