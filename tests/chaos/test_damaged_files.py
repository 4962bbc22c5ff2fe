"""A committed file whose bytes changed (a flipped bit, a lost file, a garbled manifest) is
refused in one line that names it and says what to do, before anything is counted from it; a
full disk stops the worker the same way, and nothing committed is lost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import redis

from common.settings import Settings
from ingest.contract import Order, beijing_iso, format_cents
from ingest.history import manifest_path, orders_dir, read_summary
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from tests.chaos.damage import (
    FINGERPRINTS,
    PROMPTLY_S,
    assert_ran,
    assert_refused,
    byte_breaking_all_but,
    byte_forgetting_orders,
    committed,
    flip,
    gmv,
    ingest,
    totals,
)
from tests.conftest import MIDNIGHT_MS
from tests.sample import SAMPLE

HOUR_MS = 3_600_000
Orders = Callable[..., list[Order]]


@pytest.fixture()
def orders(order_factory: Callable[..., Order]) -> Orders:
    """`count` orders of distinct amounts, `prefix`-named, at `hour` after midnight."""
    def make(count: int, prefix: str = "o", hour: int = 0) -> list[Order]:
        return [order_factory(order_id=f"{prefix}-{i}", amount_cents=10_001 + 137 * i,
                              ts_ms=MIDNIGHT_MS + hour * HOUR_MS + 10 * i) for i in range(count)]
    return make


def publish(client: redis.Redis, settings: Settings, batch: list[Order]) -> None:
    StreamPublisher(client, settings.orders_stream).publish([o.to_payload() for o in batch])


def the_file(settings: Settings, prefix: str) -> Path:
    """The one committed file whose name starts with `prefix`."""
    names = [name for name, _, _ in committed(settings.data_dir) if name.startswith(prefix)]
    assert len(names) == 1, committed(settings.data_dir)
    return orders_dir(settings.data_dir) / names[0]


def test_a_flipped_fingerprint_does_not_let_resent_orders_count_again(
        redis_client: redis.Redis, settings: Settings, orders: Orders) -> None:
    night = orders(50)
    publish(redis_client, settings, night)
    assert_ran(ingest(settings))
    before = totals(settings.data_dir)
    part = the_file(settings, "part-")
    flip(part, byte_forgetting_orders(part))
    publish(redis_client, settings, night)  # the same orders, sent again
    done = ingest(settings)
    assert totals(settings.data_dir) == before, "re-sent orders counted as new"
    assert_refused(done, "ingest", part, "is damaged", "restore it from a backup")


def compacted(client: redis.Redis, settings: Settings, orders: Orders) -> Path:
    """An hour's Parquet file, compacted from the parts (every start compacts those it finds)."""
    publish(client, settings, orders(50))
    assert_ran(ingest(settings))
    assert_ran(ingest(settings))
    return the_file(settings, "hour-")


def merged(client: redis.Redis, settings: Settings, orders: Orders) -> Path:
    """One file merged from an hour's two compacted files, once the hour is over."""
    compacted(client, settings, orders)
    publish(client, settings, orders(30, "again"))
    assert_ran(ingest(settings))  # a fresh part
    assert_ran(ingest(settings))  # compacted: the first hour has two files
    publish(client, settings, orders(20, "later", hour=2))
    assert_ran(ingest(settings))  # the clock moves on: the first hour is over...
    assert_ran(ingest(settings))  # ... and its files merged into one
    merged = the_file(settings, f"hour-{MIDNIGHT_MS // HOUR_MS}-")
    assert {name: rows for name, rows, _ in committed(settings.data_dir)}[merged.name] == 80
    return merged


def fresh(client: redis.Redis, settings: Settings, orders: Orders) -> Path:
    publish(client, settings, orders(50))
    assert_ran(ingest(settings))
    return the_file(settings, "part-")


@pytest.mark.parametrize("make", [fresh, compacted, merged], ids=["part", "compacted", "merged"])
def test_a_damaged_file_of_every_kind_is_refused_at_start_and_nothing_counted(
        redis_client: redis.Redis, settings: Settings, orders: Orders,
        make: Callable[[redis.Redis, Settings, Orders], Path]) -> None:
    damaged = make(redis_client, settings, orders)
    assert all(checksum for _, _, checksum in committed(settings.data_dir))
    before = totals(settings.data_dir)
    flip(damaged, damaged.stat().st_size // 2)
    publish(redis_client, settings, orders(20, "new"))
    assert_refused(ingest(settings), "ingest", damaged, "is damaged", "expected crc32:",
                   "restore it from a backup")
    assert totals(settings.data_dir) == before


def test_a_damaged_file_without_a_checksum_fails_compaction_once_and_promptly(
        redis_client: redis.Redis, settings: Settings, orders: Orders) -> None:
    """A store made before files carried checksums: the damage shows when compaction reads
    the whole file (the start reads only the fingerprints); the worker stops and says so."""
    part = fresh(redis_client, settings, orders)
    with duckdb.connect(str(settings.data_dir / "gmv.duckdb")) as store:
        store.execute("ALTER TABLE files DROP COLUMN IF EXISTS checksum")
    before = totals(settings.data_dir)
    flip(part, byte_breaking_all_but(part, FINGERPRINTS))
    started = time.monotonic()
    done = ingest(settings)
    assert time.monotonic() - started < PROMPTLY_S
    assert_refused(done, "ingest", part, "cannot be read", "restore it from a backup")
    assert "compaction_failed" not in done.stderr
    assert totals(settings.data_dir) == before


def test_a_store_without_checksums_still_opens_and_counts(
        redis_client: redis.Redis, settings: Settings, orders: Orders) -> None:
    fresh(redis_client, settings, orders)
    with duckdb.connect(str(settings.data_dir / "gmv.duckdb")) as store:
        store.execute("ALTER TABLE files DROP COLUMN IF EXISTS checksum")
    publish(redis_client, settings, orders(20, "new"))
    assert_ran(ingest(settings))
    assert read_summary(settings.data_dir)["orders"] == 70
    # The old part (checksum unknown) was compacted with the new one: what it became has one.
    assert all(checksum for _, _, checksum in committed(settings.data_dir))


def test_a_missing_part_is_one_line_naming_it(redis_client: redis.Redis, settings: Settings,
                                              orders: Orders) -> None:
    part = fresh(redis_client, settings, orders)
    before = totals(settings.data_dir)
    part.unlink()
    publish(redis_client, settings, orders(20, "new"))
    assert_refused(ingest(settings), "ingest", part, "is missing", "restore it from a backup")
    assert totals(settings.data_dir) == before


@pytest.mark.parametrize(("limit_bytes", "checkpoint_events", "file"), [
    (64 << 10, 6_000, "history/orders/part-"),  # one large checkpoint's part
    (96 << 10, 50, "gmv.duckdb"),  # many small commits: the store's write-ahead log
], ids=["part", "store"])
def test_a_full_disk_stops_the_worker_in_one_line_and_loses_nothing(
        redis_client: redis.Redis, settings: Settings, orders: Orders, limit_bytes: int,
        checkpoint_events: int, file: str) -> None:
    """RLIMIT_FSIZE makes every write past the limit fail (EFBIG) as a full disk would."""
    fresh(redis_client, settings, orders)
    publish(redis_client, settings, orders(6_000, "big"))
    events = str(checkpoint_events)
    done = ingest(settings, env={"GMV_CHECKPOINT_EVENTS": events, "GMV_INGEST_BATCH_SIZE": events},
                  limit_bytes=limit_bytes)
    line = assert_refused(done, "ingest", settings.data_dir / file, "could not be written",
                          "raise the limit", "nothing committed is lost")
    assert "File too large" in line
    assert_ran(ingest(settings))  # room again: it resumes from its last commit
    summary = read_summary(settings.data_dir)
    assert (summary["orders"], summary["duplicates"]) == (6_050, 0)
    assert summary["gmv"] == format_cents(sum(o.amount_cents for o in orders(50))
                                          + sum(o.amount_cents for o in orders(6_000, "big")))


PARTITIONS = 3


@pytest.fixture()
def partitioned(redis_client: redis.Redis, settings: Settings) -> Settings:
    settings = settings.replace(partitions=PARTITIONS)
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    assert_ran(ingest(settings))
    return settings


def _garbled_manifest(settings: Settings) -> Path:
    path = manifest_path(settings.for_partition(1).data_dir)
    text = path.read_text()
    path.write_text(text[:100] + "}" + text[101:])
    return path


def _damaged_file(settings: Settings) -> Path:
    folder = orders_dir(settings.for_partition(1).data_dir)
    biggest = max(folder.iterdir(), key=lambda p: p.stat().st_size)
    flip(biggest, biggest.stat().st_size // 2)
    return biggest


@pytest.mark.parametrize(("damage", "words"), [
    (_garbled_manifest, ("is not a readable manifest", "run `gmv ingest`")),
    (_damaged_file, ("is damaged", "restore it from a backup")),
], ids=["manifest", "file"])
def test_the_combiner_refuses_a_damaged_partition_in_one_line(
        partitioned: Settings, damage: Callable[[Settings], Path],
        words: tuple[str, ...]) -> None:
    before = read_summary(partitioned.data_dir)
    path = damage(partitioned)
    assert_refused(gmv(partitioned, "combine", "--until-idle"), "combine", path, *words)
    assert read_summary(partitioned.data_dir) == before


def test_a_partitions_damaged_file_stops_every_partition_in_one_line(
        partitioned: Settings) -> None:
    before = read_summary(partitioned.data_dir)
    path = _damaged_file(partitioned)
    assert_refused(ingest(partitioned), "ingest", path, "is damaged", "restore it from a backup")
    assert read_summary(partitioned.data_dir) == before


def test_a_damaged_review_rollup_is_built_again_not_believed(
        redis_client: redis.Redis, settings: Settings, orders: Orders) -> None:
    """The review's rollups are a cache of the committed files: a damaged one is said, deleted
    and built again from its file, and the answer is the one the orders give."""
    publish(redis_client, settings, orders(50) + orders(50, "later", hour=1))
    assert_ran(ingest(settings))
    span = ("--from", beijing_iso(MIDNIGHT_MS), "--to", beijing_iso(MIDNIGHT_MS + 2 * HOUR_MS))
    first = gmv(settings, "report", *span, "--json")
    assert_ran(first)
    rollups = list((settings.data_dir / "review-rollups").rglob("*.parquet"))
    assert rollups
    for rollup in rollups:
        flip(rollup, rollup.stat().st_size // 2)
    again = gmv(settings, "report", *span, "--json")
    assert_ran(again)
    assert json.loads(again.stdout) == json.loads(first.stdout)
    assert again.stderr.count("event=rollup_damaged") == len(rollups)


def test_a_garbled_summary_is_one_line_naming_it(redis_client: redis.Redis, settings: Settings,
                                                 orders: Orders) -> None:
    fresh(redis_client, settings, orders)
    path = settings.data_dir / "summary.json"
    path.write_text(path.read_text()[:40])
    assert_refused(gmv(settings, "summary", "--json"), "summary", path, "is not readable JSON",
                   "run `gmv ingest`")
    assert_ran(ingest(settings))  # it writes the summary again
    assert read_summary(settings.data_dir)["orders"] == 50


def test_a_damaged_store_is_one_line_naming_it(redis_client: redis.Redis, settings: Settings,
                                               orders: Orders) -> None:
    fresh(redis_client, settings, orders)
    store = settings.data_dir / "gmv.duckdb"
    flip(store, 4096 + 100)  # inside its first block: DuckDB's own block checksum fails
    publish(redis_client, settings, orders(20, "new"))
    assert_refused(ingest(settings), "ingest", store, "is damaged", "Corrupt database file",
                   "restore it from a backup")


def test_a_garbled_alert_book_is_one_line_naming_it(redis_client: redis.Redis,
                                                      settings: Settings) -> None:
    """Cut short between two runs (found from outside: three crashes, then 'Unterminated
    string', naming no file)."""
    from ingest.detect.keeper import alerts_path

    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    book = alerts_path(settings.data_dir)
    book.parent.mkdir(parents=True, exist_ok=True)
    book.write_text('{"alerts": [{"kind": "orders_dr')
    assert_refused(ingest(settings), "ingest", book, "move the file aside")
    assert_refused(gmv(settings, "alerts", "--json"), "alerts", book, "move the file aside")


def test_a_recording_cut_short_and_a_summary_that_is_no_summary_are_one_line(
        redis_client: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    """Found from outside: an EOFError traceback from `gmv replay`, a TypeError one from
    `gmv summary` when summary.json holds a list."""
    cut = tmp_path / "night.jsonl.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:20_000])
    assert_refused(gmv(settings, "replay", str(cut), "--max"), "replay", cut, "whole copy")
    summary = settings.data_dir / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text("[1, 2]")
    assert_refused(gmv(settings, "summary", "--json"), "summary", summary, "gmv ingest")
