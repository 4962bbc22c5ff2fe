"""The combiner restarted over a partitioned night continues from its own checkpoint (it does not
read the day's orders again) and stays exact; where its checkpoint no longer fits the partitions'
files, or cannot be read, it reads everything, as before, and is exact too."""

from __future__ import annotations

import gzip
from pathlib import Path

import redis

from common.settings import Settings
from ingest.combine_checkpoint import checkpoint_path
from rehearsal.replay import replay
from tests.integration.test_partitions import (
    PARTITIONS,
    assert_partitioned_night_is_exact,
    gmv,
    published,
)
from tests.sample import SAMPLE


def halves(tmp_path: Path) -> tuple[Path, Path]:
    """The sample night's orders cut in two recordings (no inventory: counts are what is
    checked)."""
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[:len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    return first, second


def test_a_restarted_combiner_continues_from_its_checkpoint_exactly(
        redis_client: redis.Redis, settings: Settings) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")  # the workers and the combiner
    assert checkpoint_path(settings.data_dir).exists()
    again = gmv(settings, "combine", "--until-idle")
    assert "event=combiner_resumed" in again.stderr, again.stderr[-2000:]
    assert "event=combiner_rebuilt" not in again.stderr
    assert_partitioned_night_is_exact(redis_client, settings)


def test_orders_committed_while_the_combiner_was_down_are_counted_once(
        redis_client: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    settings = settings.replace(partitions=PARTITIONS)
    first, second = halves(tmp_path)
    replay(first, redis_client, settings, speed=None, retime=False)
    gmv(settings, "ingest", "--until-idle")
    replay(second, redis_client, settings, speed=None, retime=False)
    gmv(settings, "ingest", "--until-idle", "--worker", "0/1")  # the workers alone
    later = gmv(settings, "combine", "--until-idle")
    # From its checkpoint, or (the workers compacted what it had not taken) from every file.
    assert ("event=combiner_resumed" in later.stderr) != \
        ("event=combiner_checkpoint_passed" in later.stderr), later.stderr[-2000:]
    assert_partitioned_night_is_exact(redis_client, settings)


def test_an_unreadable_checkpoint_means_reading_every_file(
        redis_client: redis.Redis, settings: Settings) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")
    path = checkpoint_path(settings.data_dir)
    path.write_bytes(path.read_bytes()[:1000])
    again = gmv(settings, "combine", "--until-idle")
    assert "event=combiner_rebuilt" in again.stderr, again.stderr[-2000:]
    assert_partitioned_night_is_exact(redis_client, settings)
