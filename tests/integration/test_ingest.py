"""The worker counts the night exactly: to the cent, once per order, even when killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from common.settings import Settings
from ingest.store import Store
from ingest.worker import run_worker
from rehearsal.replay import replay

SAMPLE = Path(__file__).parents[2] / "sample_data" / "night-2026-11-11.jsonl.gz"
TRUTH = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())["truth"]


def summary(settings: Settings) -> dict:
    store = Store(settings.data_dir / "gmv.duckdb")
    try:
        return store.summary()
    finally:
        store.close()


def assert_matches_truth(totals: dict) -> None:
    assert totals["gmv"] == TRUTH["gmv"]
    assert totals["orders"] == TRUTH["accepted"]
    assert (totals["rejected"], totals["duplicates"]) == (TRUTH["rejected"], TRUTH["duplicates"])
    assert totals["orders"] + totals["rejected"] + totals["duplicates"] == TRUTH["sent"]
    assert totals["by_device"] == {d: TRUTH["by_device"][d] for d in sorted(TRUTH["by_device"])}


def test_the_summary_reproduces_the_sample_nights_truth_to_the_cent(
        redis_client: redis.Redis, settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    assert_matches_truth(summary(settings))
    assert redis_client.xlen(settings.dead_letter_stream) == TRUTH["rejected"]
    reasons = {fields[b"reason"] for _, fields in redis_client.xrange(settings.dead_letter_stream)}
    assert any(b"not UTF-8" in r for r in reasons) and any(b"is missing" in r for r in reasons)


def test_gmv_is_exact_after_the_worker_is_killed_again_and_again(
        redis_client: redis.Redis, settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    command = [sys.executable, "-m", "gmv.cli", "ingest", "--until-idle", "-q",
               "--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    chance = random.Random(20261111)
    small_batches = {**os.environ, "GMV_INGEST_BATCH_SIZE": "1000"}  # many commits to land in
    kills = 0
    for _ in range(8):
        worker = subprocess.Popen(command, env=small_batches)
        time.sleep(chance.uniform(0.9, 1.8))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            kills += 1
        worker.wait()
    assert kills >= 3
    assert subprocess.run(command, timeout=120).returncode == 0
    assert_matches_truth(summary(settings))
