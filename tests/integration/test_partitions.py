"""A partitioned night (GMV_PARTITIONS=3) counts exactly what one partition counts: workers owning
partition sets, a crash, a partition moved to another worker between runs, the combiner summing
them all (shared/contract.md, "Partitions")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import redis

from common.settings import Settings
from ingest.history import read_summary
from rehearsal.replay import replay
from tests.checks import assert_history_matches_truth, assert_matches_truth, dead_letters
from tests.conftest import wait_for
from tests.sample import SAMPLE, reference_rejected

CLI = [sys.executable, "-m", "gmv.cli"]
PARTITIONS = 3


def gmv(settings: Settings, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args, "--redis", str(settings.redis_url), "--data", str(settings.data_dir)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "GMV_PARTITIONS": str(settings.partitions), **(env or {})})
    assert not check or done.returncode == 0, done.stderr[-3000:]
    return done


def published(redis_client: redis.Redis, settings: Settings) -> Settings:
    settings = settings.replace(partitions=PARTITIONS)
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    return settings


def assert_partitioned_night_is_exact(redis_client: redis.Redis, settings: Settings) -> None:
    totals = read_summary(settings.data_dir)
    assert_matches_truth(totals)
    assert_history_matches_truth(settings.data_dir)
    letters: Counter[bytes] = Counter()
    for p in range(settings.partitions):
        letters.update(dead_letters(redis_client, f"{settings.partition_stream(p)}:dead").values())
    assert letters == reference_rejected()


def test_the_publisher_routes_every_order_by_the_crc32_of_its_id(redis_client: redis.Redis,
                                                                  settings: Settings) -> None:
    from ingest.partitions import partition_of

    settings = published(redis_client, settings)
    assert not redis_client.exists(settings.orders_stream)
    seen: dict[str, int] = {}
    for p in range(PARTITIONS):
        entries = redis_client.xrange(settings.partition_stream(p))
        assert entries, f"partition {p} got nothing"
        for _, fields in entries:
            try:
                order_id = json.loads(fields[b"data"])["order_id"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(order_id, str):
                assert partition_of(order_id, PARTITIONS) == p
                assert seen.setdefault(order_id, p) == p  # every copy in one partition


def test_two_workers_and_the_combiner_count_the_night_exactly(redis_client: redis.Redis,
                                                              settings: Settings) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle", "--worker", "0/2")
    gmv(settings, "ingest", "--until-idle", "--worker", "1/2")
    gmv(settings, "combine", "--until-idle")
    assert_partitioned_night_is_exact(redis_client, settings)
    alerts = json.loads(gmv(settings, "alerts", "--json").stdout)
    assert any(a["kind"] == "oversell" for a in alerts)  # an item's sales summed over partitions


def test_redis_away_in_the_middle_of_a_combined_look_counts_nothing_twice(
        redis_client: redis.Redis, settings: Settings) -> None:
    """The combiner follows the workers as they commit; Redis "goes away" (a connection error at
    the named step) after it took the 2nd checkpoint of a look: it looks again, and every
    checkpoint it already took stays counted once."""
    settings = published(redis_client, settings)
    env = {**os.environ, "GMV_PARTITIONS": str(PARTITIONS), "GMV_FAULT_AT": "combine_after_apply:2",
           "GMV_CHECKPOINT_EVENTS": "5000"}
    logs = settings.data_dir.parent / "combine.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with logs.open("wb") as log:
        combiner = subprocess.Popen(
            [*CLI, "combine", "--until-idle", "--redis", str(settings.redis_url),
             "--data", str(settings.data_dir)], stdout=log, stderr=log, env=env)
        wait_for(lambda: "event=combiner_started" in logs.read_text(), 60,
                 "the combiner never started")
        gmv(settings, "ingest", "--until-idle", env={"GMV_CHECKPOINT_EVENTS": "5000"})
        assert combiner.wait(timeout=300) == 0
    text = logs.read_text()
    assert "event=fault_injected step=combine_after_apply hit=2" in text
    assert "event=redis_unavailable" in text
    assert_partitioned_night_is_exact(redis_client, settings)


def test_one_command_runs_every_partition_and_sums_them(redis_client: redis.Redis,
                                                        settings: Settings) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")
    assert_partitioned_night_is_exact(redis_client, settings)
    one = json.loads(gmv(settings, "summary", "--json").stdout)
    assert sorted(one["positions"]) == ["0", "1", "2"]


def test_a_crash_then_a_partition_moved_to_another_worker_stays_exact(
        redis_client: redis.Redis, settings: Settings) -> None:
    settings = published(redis_client, settings)
    small = {"GMV_INGEST_BATCH_SIZE": "2000", "GMV_CHECKPOINT_EVENTS": "2000"}
    crashed = gmv(settings, "ingest", "--until-idle", "--partitions", "0,1",
                  env={**small, "GMV_FAULT_AT": "after_commit:3"}, check=False)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    # Partition 1 now belongs to the worker that owns 2; the first worker keeps 0.
    gmv(settings, "ingest", "--until-idle", "--partitions", "1,2", env=small)
    gmv(settings, "ingest", "--until-idle", "--partitions", "0", env=small)
    gmv(settings, "combine", "--until-idle")
    assert_partitioned_night_is_exact(redis_client, settings)


def test_the_combined_war_room_equals_the_single_partition_one(
        redis_client: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    single = settings.replace(data_dir=tmp_path / "single", orders_stream="single:orders")
    replay(SAMPLE, redis_client, single, speed=None, retime=False)
    gmv(single, "ingest", "--until-idle", env={"GMV_ORDERS_STREAM": "single:orders"})
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")
    one, many = read_summary(single.data_dir), read_summary(settings.data_dir)
    for key in ("gmv", "orders", "peak_ops", "peak_second", "by_device", "rejected",
                "duplicates"):
        assert many[key] == one[key], key
    night_one = json.loads(redis_client.get("single:orders:night") or b"{}")
    night_many = json.loads(redis_client.get(settings.night_key) or b"{}")
    for key in ("cumulative_gmv_cents", "orders", "by_region", "by_category", "top_merchants",
                "milestones"):
        assert night_many[key] == night_one[key], key


@pytest.mark.parametrize("flags", [["--partitions", "3"], ["--worker", "2/2x"],
                                   ["--partitions", "0,a"], ["--workers", "0"]])
def test_a_bad_partition_flag_is_one_line(settings: Settings, flags: list[str]) -> None:
    done = gmv(settings.replace(partitions=PARTITIONS), "ingest", *flags, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_partition_nobody_counts_is_shown_stale_beside_the_others_lag(
        redis_client: redis.Redis, settings: Settings) -> None:
    from dashboard.pipeline import pipeline_values
    from tests.conftest import wait_for

    settings = published(redis_client, settings)
    env = {**os.environ, "GMV_PARTITIONS": str(PARTITIONS)}
    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir), "-q"]
    running = [subprocess.Popen([*CLI, "ingest", "--partitions", "0,1", *where], env=env),
               subprocess.Popen([*CLI, "combine", *where], env=env)]
    try:
        def live() -> dict:
            raw = redis_client.get(settings.snapshot_key)
            return json.loads(raw) if raw else {}
        wait_for(lambda: live().get("stale_partitions") == [2], 120,
                 "partition 2 was never shown stale alone")
        shown = live()
        assert shown["worker"] == "2/3 partitions · stale: 2"
        # The big screen's banner: the heartbeat is the oldest partition's.
        assert shown["heartbeat_ms"] <= min(p["beat_ms"] or shown["heartbeat_ms"]
                                            for p in shown["partitions"])
        tile = pipeline_values(shown, "en")[-1]
        assert tile == "2/3 · p2 stale"
        assert [(p["partition"], p["stale"]) for p in shown["partitions"]] == [
            (0, False), (1, False), (2, True)]
        assert all(p["beat_ms"] is not None for p in shown["partitions"][:2]), shown["partitions"]
    finally:
        for process in running:
            process.terminate()
            process.wait(timeout=60)


def test_sigterm_stops_every_partition_and_the_combiner(redis_client: redis.Redis,
                                                        settings: Settings) -> None:
    from tests.conftest import wait_for

    settings = published(redis_client, settings)
    env = {**os.environ, "GMV_PARTITIONS": str(PARTITIONS)}
    running = subprocess.Popen([*CLI, "ingest", "--redis", str(settings.redis_url), "--data",
                                str(settings.data_dir), "-q"], env=env)
    wait_for(lambda: (settings.data_dir / "summary.json").exists(), 120, "nothing combined")
    running.terminate()
    assert running.wait(timeout=60) == 0


def test_one_command_starts_the_worker_processes_and_the_combiner(redis_client: redis.Redis,
                                                                  settings: Settings) -> None:
    settings = published(redis_client, settings)
    done = gmv(settings, "ingest", "--until-idle", "--workers", "2")
    assert "event=workers_started workers=2 partitions=3" in done.stderr
    assert_partitioned_night_is_exact(redis_client, settings)
