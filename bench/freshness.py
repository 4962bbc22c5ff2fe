"""Freshness: from an order's XADD to its appearance in the live snapshot, at a sustained
50,000 orders/s, with `gmv ingest` running as it does on the night.

An entry's id is the server's clock at XADD; a snapshot says up to which id it has counted and
when it was made. Orders arrive at a steady rate, so each millisecond between two snapshots'
positions holds the same number of orders: one sample per millisecond, weighted equally."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.publish import machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from rehearsal.publish import StreamPublisher
from rehearsal.simulate import NightPlan, NightSimulator

RATE_PER_S = 50_000
SECONDS = 30
WARMUP_S = 5
TICK_S = 0.02


def publish(url: str, stream: str) -> None:
    """Runs in its own process: RATE_PER_S orders a second, in ticks of TICK_S."""
    sim = NightSimulator(NightPlan(seed=3, peak_ops=RATE_PER_S, start_s=0, duration_s=60))
    payloads = [p for batch in sim.batches() for p in batch.payloads]
    publisher = StreamPublisher(connect(url), stream, 2000)
    per_tick = int(RATE_PER_S * TICK_S)
    started = time.monotonic()
    for tick in range(int(SECONDS / TICK_S)):
        time.sleep(max(started + tick * TICK_S - time.monotonic(), 0))
        start = (tick * per_tick) % (len(payloads) - per_tick)
        publisher.publish(payloads[start:start + per_tick])


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=Path(tmp) / "data")
        client = connect(server.url)
        cli = [sys.executable, "-m"]
        worker = subprocess.Popen([*cli, "gmv.cli", "ingest", "-q", "--redis", server.url,
                                   "--data", str(settings.data_dir)])
        time.sleep(3)
        producer = subprocess.Popen([*cli, "bench.freshness", "publish", server.url,
                                     settings.orders_stream])
        snapshots: list[tuple[int, str]] = []
        last_seq = None
        while producer.poll() is None:
            raw = client.get(settings.snapshot_key)
            if raw:
                live = json.loads(raw)
                if live["seq"] != last_seq and live["position"]:
                    snapshots.append((live["heartbeat_ms"], live["position"]))
                    last_seq = live["seq"]
            time.sleep(0.002)
        worker.terminate()
        worker.wait()
    start_ms = _ms(snapshots[0][1]) + WARMUP_S * 1000
    samples = []
    for (_, before), (made_ms, after) in itertools.pairwise(snapshots):
        first, last = _ms(before) + 1, _ms(after)
        if first >= start_ms:
            samples.append(made_ms - np.arange(first, last + 1))
    latency = np.concatenate(samples)
    p50, p99 = np.percentile(latency, [50, 99])
    print(f"machine: {machine()}\n{RATE_PER_S:,} orders/s for {SECONDS} s "
          f"(first {WARMUP_S} s not counted), {len(snapshots)} snapshots seen")
    print(f"XADD -> live snapshot: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, max {latency.max():,} ms")


if __name__ == "__main__":
    if sys.argv[1:2] == ["publish"]:
        publish(sys.argv[2], sys.argv[3])
    else:
        main()
