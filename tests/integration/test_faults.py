"""The number on the big screen stays right to the cent through crashes and restarts.

Crashes land at named steps of the exactly-once path (ingest/faults.py: the worker kills itself
the n-th time it reaches the step), so each test crashes the worker where it means to on a
machine of any speed; Redis is restarted once the worker has committed part of the night.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from common.redis_server import EmbeddedRedis, connect
from common.settings import Settings, load_settings
from ingest.faults import STEPS
from ingest.history import orders_dir, read_summary
from rehearsal.incidents import parse_incident
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file
from rehearsal.simulate import NightPlan
from tests.checks import (
    assert_dead_letters_are_the_rejected,
    assert_every_rejected_is_dead_lettered,
    assert_history_matches_truth,
    assert_matches_truth,
)
from tests.conftest import wait_for
from tests.sample import SAMPLE, reference_rejected

CLI = [sys.executable, "-m", "gmv.cli"]


def truth_of(recording: Path) -> dict:
    return dict(json.loads(recording.with_name(
        recording.name.split(".")[0] + ".labels.json").read_text())["truth"])


def kill_schedule(kills: int, seed: int, most_batches: int) -> list[tuple[str, int]]:
    """`kills` crashes as (step, n), every step of the path at least once, in a random order
    after a first one after COMMIT (so that there are parts to compact: every start compacts
    the parts it finds, and a crash during a compaction lands at its first)."""
    chance = random.Random(seed)
    steps = [STEPS[i % len(STEPS)] for i in range(kills - 1)]
    chance.shuffle(steps)
    return [("after_commit", chance.randint(1, most_batches))] + [
        (step, 1 if step.startswith("after_compaction") else chance.randint(1, most_batches))
        for step in steps]


def crash_at(step: str, n: int, settings: Settings, log: Path,
             env: dict[str, str] | None = None) -> None:
    """One worker run that must die by its own SIGKILL at the n-th `step`."""
    command = [*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
               "--data", str(settings.data_dir)]
    with log.open("w") as out:
        worker = subprocess.run(command, stderr=out, timeout=300, env={
            **os.environ, **(env or {}), "GMV_FAULT_AT": f"{step}:{n}"})
    said = log.read_text()
    assert worker.returncode == -signal.SIGKILL, f"no crash at {step}:{n}:\n{said[-2000:]}"
    assert f"event=fault_injected step={step} hit={n}" in said


def finish(settings: Settings, env: dict[str, str] | None = None) -> None:
    command = [*CLI, "ingest", "--until-idle", "-q", "--redis", str(settings.redis_url),
               "--data", str(settings.data_dir)]
    assert subprocess.run(command, timeout=300, env={**os.environ, **(env or {})}).returncode == 0


@pytest.fixture(scope="module")
def tenth_of_the_million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The million's night (its seed, length and incidents: duplicates, malformed and late
    arrivals) at a tenth of its pace: some 112,000 events."""
    path = tmp_path_factory.mktemp("tenth") / "night.jsonl"
    incidents = tuple(parse_incident(s) for s in (
        "duplicate_resend@1m/60s", "malformed_burst@2m/30s", "late_arrivals@3m/60s"))
    simulate_to_file(NightPlan(seed=20, peak_ops=400, incidents=incidents), path, "test")
    return path


@pytest.mark.slow
def test_gmv_is_exact_after_twenty_crashes_at_every_step_of_a_replayed_night(
        tenth_of_the_million: Path, tmp_path: Path) -> None:
    """Twenty crashes, every step of the exactly-once path at least once, each after at most
    five checkpoints, then a clean finish: the totals, the history files and the dead letters
    are exact. What it needs is the count of checkpoints the crashes land among (~110, as the
    million had at 10,000 a batch), not the count of events: the tenth at 1,000 a batch."""
    night = tenth_of_the_million
    batch = 1_000
    # A checkpoint is one batch, whatever the machine's speed (the count closes it first).
    env = {"GMV_INGEST_BATCH_SIZE": str(batch), "GMV_CHECKPOINT_EVENTS": str(batch)}
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data")
        sent = replay(night, connect(server.url), settings, speed=None, retime=False).published
        assert sent >= 100 * batch
        # At most 5 checkpoints a run: 20 runs stop short of the night's ~110 checkpoints.
        schedule = kill_schedule(20, seed=583_000, most_batches=5)
        assert len(schedule) == 20 and {step for step, _ in schedule} == set(STEPS)
        for run, (step, n) in enumerate(schedule):
            crash_at(step, n, settings, tmp_path / f"run-{run}.log", env)
        finish(settings, env)
        truth = truth_of(night)
        assert_matches_truth(read_summary(settings.data_dir), truth)
        assert_history_matches_truth(settings.data_dir, truth)
        assert_dead_letters_are_the_rejected(connect(server.url), settings.dead_letter_stream,
                                             truth["rejected"])


def test_gmv_and_dead_letters_are_exact_after_a_crash_at_each_step(redis_client,
                                                                   settings: Settings) -> None:
    settings = settings.replace(ingest_batch_size=2_000)
    env = {"GMV_INGEST_BATCH_SIZE": "2000", "GMV_CHECKPOINT_EVENTS": "2000",
           "GMV_TRIM_STREAM": "no"}
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    for run, (step, n) in enumerate(kill_schedule(len(STEPS) + 2, seed=1111, most_batches=3)):
        crash_at(step, n, settings, settings.data_dir.parent / f"run-{run}.log", env)
    finish(settings, env)
    assert_matches_truth(read_summary(settings.data_dir))
    assert_history_matches_truth(settings.data_dir)
    assert_every_rejected_is_dead_lettered(redis_client, settings.dead_letter_stream,
                                           reference_rejected())
    # Each dead letter carries the bytes of the stream entry it names.
    letters = redis_client.xrange(settings.dead_letter_stream)
    source = {fields[b"source_id"]: fields[b"data"] for _, fields in letters}
    for entry_id, payload in source.items():
        ((_, fields),) = redis_client.xrange(settings.orders_stream, entry_id, entry_id)
        assert fields[b"data"] == payload


def test_a_redis_restart_mid_run_is_survived_and_said(tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl"
    simulate_to_file(NightPlan(seed=21, peak_ops=300, duration_s=300), night, "test")
    lines = night.read_bytes().splitlines()
    home = tmp_path / "redis"
    server = EmbeddedRedis(home)
    url = server.start()
    settings = load_settings(env={}, redis_url=url, data_dir=tmp_path / "data",
                             ingest_batch_size=1_000)
    StreamPublisher(connect(url), settings.orders_stream).publish(lines[: len(lines) // 2])
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([*CLI, "ingest", "--redis", url, "--data", str(settings.data_dir)],
                              stderr=log.open("w"), env={
                                  **os.environ, "GMV_INGEST_BATCH_SIZE": "1000"})
    try:
        client = connect(url)
        # Redis goes away once the worker has committed part of what is there.
        wait_for(lambda: json.loads(client.get(settings.snapshot_key) or b"{}").get("orders", 0)
                 > 0, 60, "the worker committed nothing")
        server.stop()  # SIGTERM: redis writes out its append-only file and exits
        wait_for(lambda: "event=redis_unavailable" in log.read_text(), 60,
                 "the worker never said Redis was away")
        server = EmbeddedRedis(home)
        assert server.start() == url
        client = connect(url)
        StreamPublisher(client, settings.orders_stream).publish(lines[len(lines) // 2:])
        truth = truth_of(night)
        wait_for(lambda: json.loads(client.get(settings.snapshot_key) or b"{}").get("orders")
                 == truth["accepted"], 90, "the worker never caught up after the restart")
        assert_dead_letters_are_the_rejected(client, settings.dead_letter_stream,
                                             truth["rejected"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()
    said = log.read_text()
    assert "event=redis_unavailable" in said and "event=redis_reconnected" in said
    assert_matches_truth(read_summary(settings.data_dir), truth)


def test_a_part_that_no_commit_names_is_deleted_at_the_next_start(redis_client,
                                                                   settings: Settings) -> None:
    env = {"GMV_INGEST_BATCH_SIZE": "2000", "GMV_CHECKPOINT_EVENTS": "2000"}
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    crash_at("after_part", 3, settings, settings.data_dir.parent / "crash.log", env)
    on_disk = {p.name for p in orders_dir(settings.data_dir).iterdir()}
    with duckdb.connect(str(settings.data_dir / "gmv.duckdb"), read_only=True) as store:
        committed = {name for (name,) in store.execute("SELECT name FROM files").fetchall()}
    assert len(on_disk - committed) == 1  # written, then the crash before its commit
    command = [*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
               "--data", str(settings.data_dir)]
    restart = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                             timeout=300)
    assert restart.returncode == 0 and "event=history_cleaned removed=1 " in restart.stderr
    assert_matches_truth(read_summary(settings.data_dir))
    assert_history_matches_truth(settings.data_dir)
