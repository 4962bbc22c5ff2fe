"""Scale-out: the same night drained by 1, 2, ... worker processes over as many partitions, each
partition's stream on its own Redis Cluster node (embedded, loopback, AOF on), and from the
measured per-worker drain and per-shard XADD ceilings, the processes and shards the festival's
583,000 orders/s would take.

    python -m bench.scale                 # 1 and 2 workers (this machine has 2 cores)
    python -m bench.scale --workers 1,2,4,8   # the curve, on a larger machine, unchanged

Each run: the night is published (routed by crc32(order_id) mod P) into a fresh P-node cluster,
then P `gmv ingest --until-idle --partitions p` processes start together; the drain rate is the
night's events over the time until the last one is done. The combiner then reads what they
committed (`gmv combine --until-idle`), and its total is checked against the night's truth."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.publish import ceiling, machine
from common.redis_server import EmbeddedCluster, EmbeddedRedis, connect
from common.settings import load_settings
from ingest.history import read_summary
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file
from rehearsal.simulate import NightPlan

RECORD_OPS = 583_000
PLAN = NightPlan(seed=3, peak_ops=6000)  # ten minutes around midnight: ~1.6M events
CLI = [sys.executable, "-m", "gmv.cli"]


def run(recording: Path, workers: int, truth: dict) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="gmv-scale-"))
    with EmbeddedCluster(home / "cluster", nodes=workers) as cluster:
        settings = load_settings(env={}, redis_url=cluster.url, data_dir=home / "data",
                                 partitions=workers)
        client = connect(cluster.url)
        started = time.perf_counter()
        sent = replay(recording, client, settings, speed=None, retime=False).published
        publish_s = time.perf_counter() - started
        env = {**os.environ, "GMV_PARTITIONS": str(workers)}
        where = ["--redis", cluster.url, "--data", str(settings.data_dir), "-q"]
        started = time.perf_counter()
        owned = [["--partitions", str(p)] if workers > 1 else [] for p in range(workers)]
        processes = [subprocess.Popen([*CLI, "ingest", "--until-idle", *mine, *where], env=env)
                     for mine in owned]
        codes = [p.wait() for p in processes]
        drain_s = time.perf_counter() - started
        assert codes == [0] * workers, f"a worker failed: {codes}"
        started = time.perf_counter()
        if workers > 1:
            subprocess.run([*CLI, "combine", "--until-idle", *where], env=env, check=True)
        combine_s = time.perf_counter() - started
        totals = read_summary(settings.data_dir)
        assert (totals["gmv"], totals["orders"]) == (truth["gmv"], truth["accepted"]), totals
    return {"workers": workers, "events": sent, "publish_eps": sent / publish_s,
            "drain_eps": sent / drain_s, "per_worker_eps": sent / drain_s / workers,
            "combine_s": combine_s}


def shard_ceiling() -> float | None:
    """One shard (the same redis-server, AOF on): redis-benchmark's pipelined XADD of the
    night's mean payload size."""
    with tempfile.TemporaryDirectory() as home, EmbeddedRedis(Path(home)) as server:
        return ceiling(server.url, 223, 500_000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to measure, e.g. 1,2,4,8 (default 1,2)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "night.jsonl"
        simulate_to_file(PLAN, recording, "bench.scale")
        truth = json.loads(recording.with_name("night.labels.json").read_text())["truth"]
        shard = shard_ceiling()
        print(f"one shard's XADD ceiling (redis-benchmark, AOF): "
              f"{shard:,.0f}/s" if shard else "no redis-benchmark: the shard's ceiling is the "
              "replay's publish rate", flush=True)
        results = []
        for workers in counts:
            figures = run(recording, workers, truth)
            results.append(figures)
            print(f"{workers} worker(s), {workers} partition(s) on {workers} node(s): "
                  f"{figures['events']:,} events; publish {figures['publish_eps']:,.0f}/s, "
                  f"drain {figures['drain_eps']:,.0f}/s ({figures['per_worker_eps']:,.0f}/s a "
                  f"worker), then the combiner {figures['combine_s']:.1f} s", flush=True)
    one = results[0]
    per_worker = max(r["per_worker_eps"] for r in results)
    shard = shard or max(r["publish_eps"] / r["workers"] for r in results)
    print("\nscaling: " + ", ".join(f"{r['workers']}: {r['drain_eps'] / one['drain_eps']:.2f}x"
                                   for r in results))
    print(f"projection for {RECORD_OPS:,} orders/s at 70 % of the measured ceilings (headroom "
          f"for bursts): {math.ceil(RECORD_OPS / (0.7 * per_worker))} worker processes (one core "
          f"each, {per_worker:,.0f} events/s a worker) and "
          f"{math.ceil(RECORD_OPS / (0.7 * shard))} Redis shards ({shard:,.0f} XADD/s a shard)")


if __name__ == "__main__":
    main()
