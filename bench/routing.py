"""Routed against unrouted publishing, side by side in one run: the same night replayed with
`--max` into one stream (P = 1) and routed over two (P = 2), alternately, on the same Redis
setups: one redis-server (both partitions' streams on it: the routing's own cost) and a
two-node embedded Redis Cluster (each partition's stream on its own node: what scale-out sees).
AOF on everywhere, a fresh server for every run.

    python -m bench.routing              # 3 rounds of each
    python -m bench.routing --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.publish import PLAN, machine
from common.redis_server import EmbeddedCluster, EmbeddedRedis, connect
from common.settings import load_settings
from ingest.partitions import route, routes
from rehearsal.recordings import read_jsonl
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file


def publish_rate(recording: Path, setup: str, partitions: int) -> float:
    """Events a second, replayed at `--max` into a fresh `setup` (one server, or a cluster)."""
    with tempfile.TemporaryDirectory(prefix="gmv-routing-") as tmp:
        home = Path(tmp)
        server = EmbeddedCluster(home / "cluster", nodes=2) if setup == "cluster" \
            else EmbeddedRedis(home / "redis")
        with server:
            settings = load_settings(env={}, redis_url=server.url, data_dir=home / "data",
                                     partitions=partitions)
            started = time.perf_counter()
            sent = replay(recording, connect(server.url), settings, speed=None,
                          retime=False).published
            return sent / (time.perf_counter() - started)


def routing_cost_us(recording: Path) -> tuple[float, float]:
    """µs a payload: `routes` over the publisher's batches, and `route` one payload at a time
    (the best of three passes each)."""
    batches = list(read_jsonl(recording))
    count = sum(map(len, batches))
    timed = []
    for work in (lambda: [routes(b, 2) for b in batches],
                 lambda: [[route(p, 2) for p in b] for b in batches]):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - started)
        timed.append(best / count * 1e6)
    return timed[0], timed[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "night.jsonl"
        simulate_to_file(PLAN, recording, "bench.routing")
        sent = json.loads(recording.with_name("night.labels.json").read_text())["truth"]["sent"]
        print(f"events: {sent:,} (the publishing bench's night)", flush=True)
        fast_us, slow_us = routing_cost_us(recording)
        print(f"routing alone: routes {fast_us:.2f} µs a payload, route one by one "
              f"{slow_us:.2f} µs", flush=True)
        for setup in ("server", "cluster"):
            rates: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.rounds):
                for partitions in (1, 2):
                    rates[partitions].append(publish_rate(recording, setup, partitions))
            one, two = (statistics.median(rates[p]) for p in (1, 2))
            print(f"{setup:<8} unrouted (P=1) {one:>9,.0f}/s  routed (P=2) {two:>9,.0f}/s  "
                  f"routed/unrouted {two / one:.2f}  (runs: P=1 "
                  f"{', '.join(f'{r:,.0f}' for r in rates[1])}; P=2 "
                  f"{', '.join(f'{r:,.0f}' for r in rates[2])})", flush=True)


if __name__ == "__main__":
    main()
