"""Exact to the cent when Redis itself misbehaves: killed and restarted under a draining worker,
connections cut mid-read, a blip inside a commit; and loud when entries vanish unread (an outside
trim, a Redis that came back empty)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import duckdb
import pytest
import redis

from common.redis_server import EmbeddedRedis, connect
from common.settings import Settings, load_settings
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from tests.chaos.proxy import CuttingProxy
from tests.chaos.scenarios import (
    CLI,
    SMALL_BATCHES,
    Worker,
    connections_killed_under_a_paced_replay,
    redis_killed_under_a_draining_worker,
    slices,
    wait_for,
)
from tests.checks import assert_matches_truth
from tests.sample import SAMPLE, sample_payloads


def ingest_until_idle(settings: Settings, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **SMALL_BATCHES, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def alerts_of(settings: Settings) -> list[dict]:
    done = subprocess.run([*CLI, "alerts", "--json", "--data", str(settings.data_dir),
                           "--redis", str(settings.redis_url)], capture_output=True, text=True,
                          timeout=60, check=True,
                          env={**os.environ, "GMV_PARTITIONS": str(settings.partitions)})
    return list(json.loads(done.stdout))


def test_redis_killed_eight_times_under_a_draining_worker_loses_no_cent(tmp_path: Path) -> None:
    assert_matches_truth(redis_killed_under_a_draining_worker(tmp_path, cycles=8))


def test_every_connection_cut_twenty_times_mid_read_counts_each_entry_once(
        redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    assert_matches_truth(connections_killed_under_a_paced_replay(tmp_path, redis_server.url, 20))


def test_redis_away_inside_a_commit_or_after_a_read_loses_nothing_and_counts_nothing_twice(
        redis_client: redis.Redis, settings: Settings) -> None:
    """The two places a blip did harm: a checkpoint taken out of the worker's hands and not yet
    committed (lost for good), entries read and queued (judged twice after the reconnect)."""
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    said = ingest_until_idle(settings, {"GMV_FAULT_AT": "redis_away_in_commit:3"})
    assert "event=fault_injected step=redis_away_in_commit" in said
    assert "event=redis_unavailable" in said
    assert_matches_truth(read_summary(settings.data_dir))

    redis_client.flushall()
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    again = settings.replace(data_dir=settings.data_dir.parent / "again")
    said = ingest_until_idle(again, {"GMV_FAULT_AT": "redis_away_after_read:5"})
    assert "event=fault_injected step=redis_away_after_read" in said
    assert_matches_truth(read_summary(again.data_dir))


def test_an_outside_trim_of_unread_entries_is_counted_alerted_and_in_the_summary(
        redis_client: redis.Redis, settings: Settings) -> None:
    first, rest = slices(2)
    publisher = StreamPublisher(redis_client, settings.orders_stream)
    publisher.publish(first)
    ingest_until_idle(settings)  # all of `first` committed (and trimmed by the worker)
    publisher.publish(rest)
    keep = 1_000
    redis_client.xtrim(settings.orders_stream, maxlen=keep, approximate=False)
    said = ingest_until_idle(settings)
    assert "event=stream_gap" in said
    summary = read_summary(settings.data_dir)
    (gap,) = summary["stream_gaps"]
    assert gap["lost"] == len(rest) - keep and not gap["reset"]
    assert f"{len(rest) - keep:,} entries removed" in gap["message"]
    events = summary["orders"] + summary["rejected"] + summary["duplicates"]
    assert events == len(first) + keep  # what was there to read, each once
    (alert,) = [a for a in alerts_of(settings) if a["kind"] == "stream_gap"]
    assert alert["severity"] == "critical" and alert["end"] is None
    assert f"{len(rest) - keep:,}" in alert["message"]
    # A second run finds nothing new to say.
    assert "event=stream_gap" not in ingest_until_idle(settings)
    assert len(read_summary(settings.data_dir)["stream_gaps"]) == 1


def test_a_redis_that_came_back_empty_below_the_position_is_said_and_the_new_entries_count(
        tmp_path: Path) -> None:
    """Redis restarted without its data while the store's position is ahead of the ids the new
    stream gets (a producer that sets its own ids): nothing new is skipped or trimmed unread."""
    home = tmp_path / "redis"
    payloads = list(sample_payloads())
    with EmbeddedRedis(home, append_only=False) as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data")
        client = connect(server.url)
        StreamPublisher(client, settings.orders_stream).publish(payloads[:5_000])
        ingest_until_idle(settings)
        position = read_summary(settings.data_dir)["position"]
    with EmbeddedRedis(home, append_only=False) as server:  # empty: no persistence
        client = connect(server.url)
        settings = settings.replace(redis_url=server.url)
        low_ms = int(position.split("-")[0]) - 3_600_000  # an hour below the position
        for i, payload in enumerate(payloads[5_000:8_000]):
            client.xadd(settings.orders_stream, {"data": payload}, id=f"{low_ms}-{i + 1}")
        said = ingest_until_idle(settings)
        assert "event=stream_gap" in said
        summary = read_summary(settings.data_dir)
        assert summary["orders"] + summary["rejected"] + summary["duplicates"] == 8_000
        (gap,) = summary["stream_gaps"]
        assert gap["reset"] and gap["after_id"] == position
        assert client.xlen(settings.orders_stream) >= 1  # its own trim kept what it had not read
        assert [a for a in alerts_of(settings) if a["kind"] == "stream_gap"]


def test_a_trim_of_one_partition_is_told_by_the_combined_war_room(
        redis_client: redis.Redis, settings: Settings) -> None:
    """Three partitions, one trimmed by an outsider before its worker read it: the combined
    summary carries the gap with its count, and the combiner raises the alert."""
    settings = settings.replace(partitions=3)
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    stream = settings.partition_stream(1)
    length = redis_client.xlen(stream)
    redis_client.xtrim(stream, maxlen=500, approximate=False)
    ingest_until_idle(settings, {"GMV_PARTITIONS": "3"})
    (gap,) = read_summary(settings.data_dir)["stream_gaps"]
    assert gap["stream"] == stream and gap["lost"] == length - 500
    (alert,) = [a for a in alerts_of(settings) if a["kind"] == "stream_gap"]
    assert alert["dimension"] == f"stream={stream}" and f"{length - 500:,}" in alert["message"]


@pytest.mark.parametrize(("command", "nth", "after"), [
    ("XREAD", 5, False), ("XREAD", 20, True),  # the read, before Redis has it or its reply
    ("XINFO", 30, True),  # the stream's state beside each read; and the heartbeat's
    ("XADD", 40, True),  # dead letters (written, the reply lost: at-least-once)
    ("XRANGE", 10, False),  # the inventory, read inside a commit
    ("SET", 30, False), ("EXISTS", 20, True),  # the snapshot, the alerts, the heartbeat
    ("HMGET", 1, True),  # the acknowledgements (asked only while an alert is open)
    ("XTRIM", 1, True),  # the trim of committed entries
])
def test_a_connection_cut_on_any_call_the_worker_makes_changes_no_total(
        redis_client: redis.Redis, redis_server: EmbeddedRedis, settings: Settings,
        command: str, nth: int, after: bool) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    proxy = CuttingProxy(Path(redis_server.url.removeprefix("unix://")))
    try:
        proxy.cut(command, nth, after)
        said = ingest_until_idle(settings.replace(redis_url=proxy.url))
    finally:
        proxy.close()
    assert proxy.cuts == 1, proxy.seen
    # The read's own connection fails the worker (crash-only); a plain command may instead be
    # retried by redis-py on a new connection. Either way, nothing is lost or counted twice.
    assert command != "XREAD" or "event=redis_unavailable" in said
    assert_matches_truth(read_summary(settings.data_dir))


@pytest.mark.parametrize("removal", ["xdel_newest", "trim_to_nothing"])
def test_until_idle_ends_when_the_streams_newest_entries_were_removed_unread(
        redis_client: redis.Redis, settings: Settings, removal: str) -> None:
    """The stream's last generated id lies beyond anything left to read: --until-idle still
    ends, once the gap is said (it waited for that id for ever, found from outside)."""
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads())[:1_000])
    if removal == "xdel_newest":
        (newest, _), = redis_client.xrevrange(settings.orders_stream, count=1)
        redis_client.xdel(settings.orders_stream, newest)
    else:
        redis_client.xtrim(settings.orders_stream, maxlen=0, approximate=False)
    said = ingest_until_idle(settings)
    (gap,) = read_summary(settings.data_dir)["stream_gaps"]
    assert gap["lost"] == (1 if removal == "xdel_newest" else 1_000), said


def test_a_redis_back_empty_with_the_producer_writing_first_is_another_stream_said_out_loud(
        tmp_path: Path) -> None:
    """Redis without persistence dies with entries unread; it comes back empty and the producer
    writes on before the worker looks, with ids beyond the committed position. Nothing in the
    ids tells; the token the worker left beside the stream is gone, so it says the stream is
    another one and counts every new entry (found from outside: 16,000 lost, nothing said)."""
    home, payloads = tmp_path / "redis", list(sample_payloads())
    with EmbeddedRedis(home, append_only=False) as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data")
        StreamPublisher(connect(server.url), settings.orders_stream).publish(payloads[:40_000])
        crashed = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", server.url, "--data",
                                  str(settings.data_dir)], capture_output=True, timeout=300,
                                 env={**os.environ, **SMALL_BATCHES,
                                      "GMV_FAULT_AT": "after_commit:3"})
        assert crashed.returncode == -signal.SIGKILL
    with duckdb.connect(str(settings.data_dir / "gmv.duckdb"), read_only=True) as store:
        (counted,) = store.execute(
            "SELECT accepted + rejected + duplicates FROM progress").fetchone() or (0,)
    assert 0 < counted < 40_000  # entries were left unread
    with EmbeddedRedis(home, append_only=False) as server:  # empty
        settings = settings.replace(redis_url=server.url)
        StreamPublisher(connect(server.url), settings.orders_stream).publish(payloads[40_000:])
        said = ingest_until_idle(settings)
    assert "event=stream_gap" in said
    totals = read_summary(settings.data_dir)
    (gap,) = totals["stream_gaps"]
    assert gap["cause"] == "restarted" and gap["reset"]
    assert totals["orders"] + totals["rejected"] + totals["duplicates"] == \
        counted + len(payloads) - 40_000


def test_an_xdel_below_one_already_said_is_counted_too(redis_client: redis.Redis,
                                                      settings: Settings) -> None:
    """Redis keeps the newest id ever deleted: a second XDEL below it leaves no new mark, but
    the stream's own count of removed entries grows (found from outside: 10 lost, unsaid)."""
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads())[:5_000])
    ids = [entry_id for entry_id, _ in redis_client.xrange(settings.orders_stream)]
    redis_client.xdel(settings.orders_stream, ids[-1])
    crashed = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                              "--data", str(settings.data_dir)], capture_output=True, timeout=300,
                             env={**os.environ, **SMALL_BATCHES, "GMV_FAULT_AT": "after_commit:2"})
    assert crashed.returncode == -signal.SIGKILL  # two checkpoints in, the first gap said
    redis_client.xdel(settings.orders_stream, *ids[3_000:3_010])  # unread, below the first
    ingest_until_idle(settings)
    totals = read_summary(settings.data_dir)
    assert [g["lost"] for g in totals["stream_gaps"]] == [1, 10]
    assert totals["orders"] + totals["rejected"] + totals["duplicates"] == 5_000 - 11


def test_redis_out_of_memory_is_waited_out_and_nothing_is_lost(redis_client: redis.Redis,
                                                               settings: Settings) -> None:
    """Redis at its maxmemory refuses every write (OOM, not a connection error): the worker
    waits it out like Redis away, then counts the night exactly (found from outside: three
    crashes in half a second, then an exit)."""
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    redis_client.config_set("maxmemory", 1)  # below what it holds: every write refused
    log = settings.data_dir.parent / "worker.log"
    worker = Worker(settings, log, SMALL_BATCHES).start("--until-idle")
    try:
        wait_for(lambda: worker.said("redis_refusing") >= 2, 120, "never said Redis refused")
        assert worker.process is not None and worker.process.poll() is None  # still there
    finally:
        redis_client.config_set("maxmemory", 0)
    assert worker.process is not None and worker.process.wait(timeout=300) == 0
    assert worker.said("worker_crashed") == 0
    assert_matches_truth(read_summary(settings.data_dir))


def test_a_redis_back_on_an_older_aof_is_said_once_and_nothing_is_counted_twice(
        tmp_path: Path) -> None:
    """Redis restarted on a copy of its AOF from before the worker's last reads: the stream
    goes back below the committed position (found from outside: read again from its start,
    rejected 306 and duplicates 60,820 instead of 167 and 1,958)."""
    home, payloads = tmp_path / "redis", list(sample_payloads())
    settings = load_settings(env={}, redis_url="", data_dir=tmp_path / "data")
    with EmbeddedRedis(home) as server:
        settings = settings.replace(redis_url=server.url)
        StreamPublisher(connect(server.url), settings.orders_stream).publish(payloads[:40_000])
        ingest_until_idle(settings)
    shutil.copytree(home / "appendonlydir", tmp_path / "aof-copy")  # stopped: flushed
    with EmbeddedRedis(home) as server:
        StreamPublisher(connect(server.url), settings.orders_stream).publish(payloads[40_000:])
        ingest_until_idle(settings)
    shutil.rmtree(home / "appendonlydir")
    shutil.copytree(tmp_path / "aof-copy", home / "appendonlydir")
    with EmbeddedRedis(home) as server:  # the older copy
        said = ingest_until_idle(settings) + ingest_until_idle(settings)
    assert said.count("event=stream_gap") == 1
    totals = read_summary(settings.data_dir)
    assert_matches_truth(totals)
    (gap,) = totals["stream_gaps"]
    assert gap["cause"] == "behind" and not gap["reset"]
