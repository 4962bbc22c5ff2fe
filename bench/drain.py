"""Drain rate: a pre-filled stream of ~2M orders into committed DuckDB windows plus the snapshot,
by one `gmv ingest --until-idle` process; beside it, in the same run, redis-server's own ceilings
(XADD by redis-benchmark; XREADGROUP + XACK with no processing) and the same per-second job
done by Bytewax reading the same stream."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.publish import ceiling, machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

PLAN = NightPlan(seed=2, peak_ops=8000)  # ten minutes around midnight: ~2.1M events


def group_read_ceiling(url: str, stream: str) -> float:
    """XREADGROUP of 50k + one XACK per batch, raw replies, nothing else."""
    client = connect(url)
    client.response_callbacks.pop("XREADGROUP", None)
    client.xgroup_create(stream, "ceiling", id="0")
    started, count = time.perf_counter(), 0
    while reply := client.execute_command("XREADGROUP", "GROUP", "ceiling", "c", "COUNT", 50_000,
                                          "STREAMS", stream, ">"):
        ids = [entry[0] for entry in reply[0][1]]
        client.xack(stream, "ceiling", *ids)
        count += len(ids)
    client.xgroup_destroy(stream, "ceiling")
    return count / (time.perf_counter() - started)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=Path(tmp) / "data",
                                 trim_stream=False)
        client = connect(server.url)
        sent = simulate_to_stream(PLAN, client, settings, None, Path(tmp) / "labels.json",
                                  "bench").truth.sent
        print(f"machine: {machine()}\nstream: {sent:,} events pre-filled (AOF everysec)",
              flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gmv.cli", "ingest", "--until-idle", "-q",
                        "--redis", server.url, "--data", str(settings.data_dir)], check=True,
                       env={"GMV_TRIM_STREAM": "no", "PATH": "/usr/bin:/bin"})
        worker = sent / (time.perf_counter() - started)
        print(f"{'gmv ingest (one process, to committed windows + snapshot)':<62}{worker:>12,.0f}/s",
              flush=True)
        group = group_read_ceiling(server.url, settings.orders_stream)
        print(f"{'ceiling: XREADGROUP + XACK, raw replies, no processing':<62}{group:>12,.0f}/s",
              flush=True)
        try:
            from bench.bytewax_peer import run as bytewax_run
        except ImportError:
            print("bytewax: not installed (pip install '.[bench]')")
        else:
            started = time.perf_counter()
            bytewax_run(server.url, settings.orders_stream)
            peer = sent / (time.perf_counter() - started)
            print(f"{'peer: Bytewax 0.21, same per-second job, in memory':<62}{peer:>12,.0f}/s"
                  f"   (gmv ingest = {worker / peer:.2f}x)", flush=True)
        xadd = ceiling(server.url, 223, 1_000_000)
        print(f"{'ceiling: XADD by redis-benchmark (C, pipelined)':<62}{xadd or 0:>12,.0f}/s")


if __name__ == "__main__":
    main()
