"""Freshness: from an order's XADD to its appearance in the live snapshot, at a sustained
50,000 orders/s for a minute and 100,000 orders/s for half a minute, each from a separate
publishing process, with `gmv ingest` running as it does on the night; and the worker's load at
the demo's 4,000 orders/s.

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
from common.redis_server import PUBLISHER_SOCKET_TIMEOUT_S, EmbeddedRedis, connect
from common.settings import load_settings
from rehearsal.publish import StreamPublisher
from rehearsal.simulate import NightPlan, NightSimulator

RUNS = ((50_000, 60), (100_000, 30))  # (orders/s, seconds)
LIVE_RATE, LIVE_SECONDS = 4_000, 30
WARMUP_S = 5
TICK_S = 0.02


def publish(url: str, stream: str, rate: int, seconds: int) -> None:
    """Runs in its own process: `rate` orders a second, in ticks of TICK_S."""
    sim = NightSimulator(NightPlan(seed=3, peak_ops=max(rate, 20_000), start_s=0, duration_s=60))
    payloads = [p for batch in sim.batches() for p in batch.payloads]
    publisher = StreamPublisher(connect(url, socket_timeout=PUBLISHER_SOCKET_TIMEOUT_S), stream,
                                2000)
    per_tick = int(rate * TICK_S)
    started = time.monotonic()
    for tick in range(int(seconds / TICK_S)):
        time.sleep(max(started + tick * TICK_S - time.monotonic(), 0))
        start = (tick * per_tick) % (len(payloads) - per_tick)
        publisher.publish(payloads[start:start + per_tick])


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


def measure(rate: int, seconds: int) -> tuple[list[tuple[int, str]], list[dict]]:
    """Snapshots (made at, committed position) seen while `rate` orders/s are published."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=Path(tmp) / "data")
        client = connect(server.url)
        cli = [sys.executable, "-m"]
        worker = subprocess.Popen([*cli, "gmv.cli", "ingest", "-q", "--redis", server.url,
                                   "--data", str(settings.data_dir)])
        try:  # the worker goes with the bench, however it ends (one outlived a failed run)
            while client.get(settings.snapshot_key) is None:
                time.sleep(0.05)
            producer = subprocess.Popen([*cli, "bench.freshness", "publish", server.url,
                                         settings.orders_stream, str(rate), str(seconds)])
            snapshots: list[tuple[int, str]] = []
            beats: list[dict] = []
            last_seq = None
            while producer.poll() is None:
                raw = client.get(settings.snapshot_key)
                if raw:
                    live = json.loads(raw)
                    if live["seq"] != last_seq and live["position"]:
                        snapshots.append((live["heartbeat_ms"], live["position"]))
                        beats.append(live)
                        last_seq = live["seq"]
                time.sleep(0.002)
            if producer.returncode:
                raise SystemExit(f"the publisher failed ({producer.returncode})")
        finally:
            worker.terminate()
            worker.wait()
    return snapshots, beats


def latency_ms(snapshots: list[tuple[int, str]]) -> np.ndarray:
    start_ms = _ms(snapshots[0][1]) + WARMUP_S * 1000
    samples = []
    for (_, before), (made_ms, after) in itertools.pairwise(snapshots):
        first, last = _ms(before) + 1, _ms(after)
        if first >= start_ms:
            samples.append(made_ms - np.arange(first, last + 1))
    return np.concatenate(samples)


def main() -> None:
    print(f"machine: {machine()}")
    for rate, seconds in RUNS:
        snapshots, _ = measure(rate, seconds)
        latency = latency_ms(snapshots)
        p50, p99 = np.percentile(latency, [50, 99])
        print(f"{rate:,} orders/s for {seconds} s (first {WARMUP_S} s not counted), "
              f"{len(snapshots)} snapshots: XADD -> live snapshot p50 {p50:,.0f} ms, "
              f"p99 {p99:,.0f} ms, max {latency.max():,} ms", flush=True)
    _, beats = measure(LIVE_RATE, LIVE_SECONDS)
    settled = [b for b in beats if b["heartbeat_ms"] - beats[0]["heartbeat_ms"] > 12_000]
    load = np.median([b["load"] for b in settled])
    rates = np.median([b["ingest_eps"] for b in settled])
    print(f"live pace {LIVE_RATE:,} orders/s: worker load {load:.1%} (median over "
          f"{len(settled)} heartbeats, counting {rates:,.0f}/s; capacity shown "
          f"{settled[-1]['capacity_eps']:,}/s by {settled[-1]['capacity_basis']})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["publish"]:
        publish(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
