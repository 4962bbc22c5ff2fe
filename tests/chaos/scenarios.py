"""Faults a real night brings, played against a real worker process and a real redis-server:
each scenario returns what the worker committed, for a test (or bench/chaos.py, ten in a row) to
compare with a clean run of the same recording. Every step waits for a condition (the committed
position the worker publishes, a log line), never for a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from common.redis_server import EmbeddedRedis, connect
from common.settings import Settings, load_settings
from ingest.history import read_summary
from ingest.read import id_key
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.sample import sample_payloads

CLI = [sys.executable, "-m", "gmv.cli"]
SMALL_BATCHES = {"GMV_INGEST_BATCH_SIZE": "1000", "GMV_CHECKPOINT_EVENTS": "1000"}
# Every write on disk before it is acknowledged: a SIGKILLed Redis loses nothing it confirmed.
DURABLE = ("--appendfsync", "always")


@dataclass
class Worker:
    """`gmv ingest` as a process, its log in a file."""

    settings: Settings
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> Worker:
        command = [*CLI, "ingest", "--redis", str(self.settings.redis_url),
                   "--data", str(self.settings.data_dir), *extra]
        self.process = subprocess.Popen(command, stderr=self.log.open("a"),
                                        env={**os.environ, **self.env})
        return self

    def said(self, event: str) -> int:
        return self.log.read_text().count(f"event={event}") if self.log.exists() else 0

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def committed_position(client: redis.Redis, settings: Settings) -> str | None:
    """The position of the worker's last published snapshot (None: none yet, or Redis away)."""
    try:
        raw = client.get(settings.snapshot_key)
    except redis.RedisError:
        return None
    return json.loads(raw).get("position") if raw else None


def drained(client: redis.Redis, settings: Settings) -> bool:
    position = committed_position(client, settings)
    try:
        last = client.xinfo_stream(settings.orders_stream)["last-generated-id"]
    except redis.RedisError:
        return False
    return position is not None and id_key(position) >= id_key(last)


def summary_when_drained(worker: Worker, client: redis.Redis) -> dict[str, Any]:
    """Once the worker has committed every entry: stopped (SIGTERM), its summary."""
    wait_for(lambda: drained(client, worker.settings), 180, "the worker never drained the stream")
    assert worker.stop() == 0, worker.log.read_text()[-3000:]
    return read_summary(worker.settings.data_dir)


def committed_into(client: redis.Redis, settings: Settings, entry_id: str) -> None:
    def reached() -> bool:
        position = committed_position(client, settings)
        return position is not None and id_key(position) >= id_key(entry_id)
    wait_for(reached, 120, f"the worker never committed {entry_id}")


def slices(count: int) -> list[list[bytes]]:
    payloads = list(sample_payloads())
    size = -(-len(payloads) // count)
    return [payloads[i:i + size] for i in range(0, len(payloads), size)]


def redis_killed_under_a_draining_worker(workdir: Path, cycles: int = 8) -> dict[str, Any]:
    """The sample night published in `cycles` slices; after each, once the worker has committed
    into it, Redis is SIGKILLed and started again on its append-only file."""
    home = workdir / "redis"
    server = EmbeddedRedis(home, extra_args=DURABLE)
    url = server.start()
    settings = load_settings(env={}, redis_url=url, data_dir=workdir / "data")
    worker = Worker(settings, workdir / "worker.log", SMALL_BATCHES).start()
    try:
        for part in slices(cycles):
            client = connect(url)
            StreamPublisher(client, settings.orders_stream).publish(part)
            first = client.xrevrange(settings.orders_stream, count=len(part))[-1][0].decode()
            committed_into(client, settings, first)
            away = worker.said("redis_unavailable")
            assert server.process is not None
            server.process.kill()
            server.process.wait()
            wait_for(lambda away=away: worker.said("redis_unavailable") > away, 60,  # type: ignore[misc]
                     "the worker never saw Redis go")
            server = EmbeddedRedis(home, extra_args=DURABLE)
            assert server.start() == url
        return summary_when_drained(worker, connect(url))
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.kill()
        server.stop()


def connections_killed_under_a_paced_replay(workdir: Path, redis_url: str,
                                            kills: int = 20) -> dict[str, Any]:
    """The sample night published a slice at a time, in small batches (a paced replay: the
    worker holds entries read but not yet committed); after each slice is under way, every
    connection of the worker is killed (CLIENT KILL: its XREAD and every other)."""
    settings = load_settings(env={}, redis_url=redis_url, data_dir=workdir / "data")
    client = connect(redis_url)
    worker = Worker(settings, workdir / "worker.log", {
        **SMALL_BATCHES, "GMV_CHECKPOINT_INTERVAL_MS": "2000"}).start()
    mine = client.client_id()
    try:
        publisher = StreamPublisher(client, settings.orders_stream, batch_size=100)
        for part in slices(kills):
            half = len(part) // 2
            publisher.publish(part[:half])
            first = client.xrevrange(settings.orders_stream, count=half)[-1][0].decode()
            committed_into(client, settings, first)
            publisher.publish(part[half:])
            for info in client.client_list(_type="normal"):
                if int(info["id"]) != mine:
                    client.client_kill_filter(_id=int(info["id"]))
        return summary_when_drained(worker, client)
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.kill()
