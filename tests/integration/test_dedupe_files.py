"""The dedupe table's files across kills and restarts: a restart maps them (no rebuild), a kill
between the table taking a batch and its commit or in the middle of a generation's drop leaves
every total exact, and files deleted by hand are rebuilt from the history, said in one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from common.settings import Settings
from ingest.generations import HEADER_WORDS, dedupe_dir
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from tests.chaos.scenarios import CLI
from tests.checks import assert_matches_truth
from tests.sample import TRUTH, reference_rejected, sample_payloads

SMALL = {"GMV_INGEST_BATCH_SIZE": "2000", "GMV_CHECKPOINT_EVENTS": "2000",
         "GMV_TRIM_STREAM": "no"}


def ingest(settings: Settings, env: dict[str, str], fault: str | None = None) -> str:
    """One `gmv ingest --until-idle` run, its log; with `fault`, it must die there."""
    extra = {"GMV_FAULT_AT": fault} if fault else {}
    done = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env, **extra})
    if fault:
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
        assert f"event=fault_injected step={fault.split(':')[0]}" in done.stderr
    else:
        assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def resent_half(client: redis.Redis, settings: Settings) -> int:
    """Half the night sent again: each a duplicate or rejected again, never GMV."""
    resent = list(sample_payloads())[: len(sample_payloads()) // 2]
    StreamPublisher(client, settings.orders_stream).publish(resent)
    return sum(1 for p in resent if p not in reference_rejected())


def test_a_restart_maps_the_table_and_its_resends_stay_duplicates(
        redis_client: redis.Redis, settings: Settings) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    first = ingest(settings, SMALL)
    duplicates = resent_half(redis_client, settings)
    second = ingest(settings, SMALL)
    assert "event=dedupe_rebuilt source=history" in first  # a fresh store: nothing to map
    assert "event=dedupe_rebuilt source=files" in second and "dedupe_files_unusable" not in second
    totals = read_summary(settings.data_dir)
    assert totals["orders"] == TRUTH["accepted"] and totals["gmv"] == TRUTH["gmv"]
    assert totals["duplicates"] == TRUTH["duplicates"] + duplicates


def test_a_kill_after_the_table_took_a_batch_turns_none_of_it_into_duplicates(
        redis_client: redis.Redis, settings: Settings) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    for n in (1, 3, 2):  # at the first batch, then deeper in
        ingest(settings, SMALL, fault=f"after_dedupe_table:{n}")
    last = ingest(settings, SMALL)
    assert "event=dedupe_rebuilt source=files" in last
    assert_matches_truth(read_summary(settings.data_dir))


def flip_a_filled_slot(folder: Path) -> None:
    """One bit of one remembered fingerprint changed on disk, behind the worker's back."""
    path = max(folder.glob("gen-*.table"))
    slots = np.fromfile(path, np.uint64)[HEADER_WORDS:]
    at = (HEADER_WORDS + int(np.flatnonzero(slots)[100])) * 8 + 5
    with path.open("r+b") as file:
        file.seek(at)
        byte = file.read(1)[0]
        file.seek(at)
        file.write(bytes([byte ^ 0x01]))


@pytest.mark.parametrize("damage", ["deleted", "a_flipped_slot"])
def test_damaged_table_files_are_rebuilt_from_the_history_and_said(
        redis_client: redis.Redis, settings: Settings, damage: str) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    ingest(settings, SMALL)
    if damage == "deleted":
        shutil.rmtree(dedupe_dir(settings.data_dir))
    else:
        flip_a_filled_slot(dedupe_dir(settings.data_dir))
    duplicates = resent_half(redis_client, settings)
    said = ingest(settings, SMALL)
    assert said.count("event=dedupe_files_unusable") == 1
    assert "event=dedupe_rebuilt source=history" in said
    totals = read_summary(settings.data_dir)
    assert totals["orders"] == TRUTH["accepted"] and totals["gmv"] == TRUTH["gmv"]
    assert totals["duplicates"] == TRUTH["duplicates"] + duplicates


def order(order_id: str, ts_ms: int) -> bytes:
    return json.dumps({"order_id": order_id, "ts": ts_ms, "amount": "10.00", "device": "pc",
                       "category": "books", "region": "ZJ", "merchant_id": "m1",
                       "buyer_id": "b1", "item_id": "i1", "quantity": 1}).encode()


def arrive(client: redis.Redis, settings: Settings, group: str, at_ms: int, n: int = 300) -> None:
    """`n` orders of `group` arriving at `at_ms` (their stream ids), paid a second before."""
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(settings.orders_stream, {"data": order(f"{group}-{i}", at_ms - 1000)},
                  id=f"{at_ms}-{i}")
    pipe.execute()


def test_a_kill_inside_a_generation_drop_forgets_nothing_within_the_horizon(
        redis_client: redis.Redis, settings: Settings) -> None:
    """A one-hour horizon and orders arriving 40 minutes apart: a generation opens after the
    commit of every other group; the fourth group's commit drops the first generation (the first
    two groups); killed in the middle of the drop, the next start finishes it, and the third and
    fourth groups sent again are all duplicates."""
    env = {**SMALL, "GMV_DEDUPE_HORIZON_H": "1"}
    start_ms = (int(time.time()) - 3 * 3600) * 1000
    minute_ms = 60_000
    arrive(redis_client, settings, "a", start_ms)
    ingest(settings, env)
    arrive(redis_client, settings, "b", start_ms + 40 * minute_ms)
    ingest(settings, env)
    arrive(redis_client, settings, "c", start_ms + 80 * minute_ms)
    ingest(settings, env)
    arrive(redis_client, settings, "d", start_ms + 120 * minute_ms)
    ingest(settings, env, fault="inside_generation_drop:1")
    assert (dedupe_dir(settings.data_dir) / "gen-0.table").exists()
    ingest(settings, env)
    assert not (dedupe_dir(settings.data_dir) / "gen-0.table").exists()
    arrive(redis_client, settings, "c", start_ms + 121 * minute_ms)
    arrive(redis_client, settings, "d", start_ms + 122 * minute_ms)
    said = ingest(settings, env)
    assert "event=dedupe_rebuilt source=files" in said
    totals = read_summary(settings.data_dir)
    assert (totals["orders"], totals["duplicates"], totals["rejected"]) == (1200, 600, 0)
