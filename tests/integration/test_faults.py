"""The number on the big screen stays right to the cent through crashes and restarts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from ingest.history import read_summary
from rehearsal.incidents import parse_incident
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file
from rehearsal.simulate import NightPlan

CLI = [sys.executable, "-m", "gmv.cli"]


def expected(labels: Path) -> dict:
    truth = json.loads(labels.read_text())["truth"]
    return {"gmv": truth["gmv"], "orders": truth["accepted"], "rejected": truth["rejected"],
            "duplicates": truth["duplicates"],
            "by_device": {d: truth["by_device"][d] for d in sorted(truth["by_device"])}}


def observed(data_dir: Path) -> dict:
    totals = read_summary(data_dir)
    return {k: totals[k] for k in ("gmv", "orders", "rejected", "duplicates", "by_device")}


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A night of over a million events with duplicates, malformed and late arrivals."""
    path = tmp_path_factory.mktemp("million") / "night.jsonl"
    incidents = tuple(parse_incident(s) for s in (
        "duplicate_resend@1m/60s", "malformed_burst@2m/30s", "late_arrivals@3m/60s"))
    simulate_to_file(NightPlan(seed=20, peak_ops=4000, incidents=incidents), path, "test")
    return path


@pytest.mark.slow
def test_gmv_is_exact_after_twenty_kills_during_a_million_order_replay(
        million: Path, tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data")
        sent = replay(million, connect(server.url), settings, speed=None, retime=False).published
        assert sent >= 1_000_000
        command = [*CLI, "ingest", "--until-idle", "-q", "--redis", server.url,
                   "--data", str(settings.data_dir)]
        chance = random.Random(583_000)
        kills = 0
        while kills < 20:
            worker = subprocess.Popen(command)
            time.sleep(chance.uniform(1.0, 2.5))
            if worker.poll() is not None:
                break  # it finished the night before the next kill
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        assert kills == 20
        assert subprocess.run(command, timeout=300).returncode == 0
        totals = observed(settings.data_dir)
    truth = expected(million.with_name("night.labels.json"))
    assert totals == truth
    assert totals["orders"] + totals["rejected"] + totals["duplicates"] == sent


def test_a_redis_restart_mid_run_is_survived_and_said(tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl"
    simulate_to_file(NightPlan(seed=21, peak_ops=300, duration_s=300), night, "test")
    lines = night.read_bytes().splitlines()
    home = tmp_path / "redis"
    server = EmbeddedRedis(home)
    url = server.start()
    settings = load_settings(env={}, redis_url=url, data_dir=tmp_path / "data")
    StreamPublisher(connect(url), settings.orders_stream).publish(lines[: len(lines) // 2])
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([*CLI, "ingest", "--redis", url, "--data", str(settings.data_dir)],
                              stderr=log, env={**os.environ, "GMV_CONSUMER": "restart-test"})
    try:
        time.sleep(4)
        server.stop()  # SIGTERM: redis writes out its append-only file and exits
        time.sleep(2)
        server = EmbeddedRedis(home)
        assert server.start() == url
        StreamPublisher(connect(url), settings.orders_stream).publish(lines[len(lines) // 2:])
        client = connect(url)
        deadline = time.monotonic() + 90
        truth = expected(night.with_name("night.labels.json"))
        while json.loads(client.get(settings.snapshot_key) or b"{}").get("orders") != \
                truth["orders"]:
            assert time.monotonic() < deadline, "the worker never caught up after the restart"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()
    said = (tmp_path / "worker.log").read_text()
    assert "event=redis_unavailable" in said and "event=redis_reconnected" in said
    assert observed(settings.data_dir) == truth


def test_a_worker_restarted_under_a_new_name_settles_what_the_old_name_left(
        tmp_path: Path) -> None:
    sample = Path(__file__).parents[2] / "sample_data" / "night-2026-11-11.jsonl.gz"
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data",
                                 ingest_batch_size=2_000)
        replay(sample, connect(server.url), settings, speed=None, retime=False)
        command = [*CLI, "ingest", "--until-idle", "-q", "--redis", server.url,
                   "--data", str(settings.data_dir)]
        env = {**os.environ, "GMV_INGEST_BATCH_SIZE": "2000"}
        old = subprocess.Popen(command, env={**env, "GMV_CONSUMER": "host-a"})
        time.sleep(2.5)
        old.send_signal(signal.SIGKILL)
        old.wait()
        pending = connect(server.url).xpending(settings.orders_stream, "gmv-ingest")
        assert pending["pending"] > 0, "the kill came too late to leave anything pending"
        new = subprocess.run([a for a in command if a != "-q"],
                             env={**env, "GMV_CONSUMER": "host-b"}, timeout=120,
                             capture_output=True, text=True)
        assert new.returncode == 0 and "event=pending_claimed" in new.stderr
        totals = observed(settings.data_dir)
    assert totals == expected(sample.with_name("night-2026-11-11.labels.json"))
