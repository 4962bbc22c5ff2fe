"""A whole festival day at the seed's scale through one worker: ~100M orders simulated and
published as fast as Redis takes them (held back only while more than a few million wait) while
`gmv ingest` drains and trims the stream. Sampled as it goes: the worker's RSS, its drain rate
by tenth of the day. At the end: the store's and the history's size on disk, and the time a
restarted worker takes to its first commit (it maps the dedupe table's files, which the day's
worker wrote to disk at its clean stop).

The day stays on disk (default bench-data/full-day, or --data): the review's benchmark
(bench/review.py, issue #13) reads it. `python -m bench.full_day --data DIR` makes it again;
`--peak-ops 1600` (a twentieth of the day, ~5M orders) or `--hours` make a smaller day for
development."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.publish import machine
from bench.scoring import Score
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from ingest.detect.keeper import read_alerts
from rehearsal.incidents import every_kind
from rehearsal.publish import StreamPublisher
from rehearsal.run import labels_document, write_labels
from rehearsal.simulate import NightPlan, NightSimulator

PEAK_OPS = 32_000  # a 24-hour day of ~101M orders (and ~2M duplicates and malformed events)
BACKLOG_HIGH, BACKLOG_LOW = 3_000_000, 1_000_000


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (RssFile: the mapped files, the dedupe table's and the libraries')."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def du_mib(*paths: Path) -> float:
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return sum(p.stat().st_size for p in files if p.is_file()) / 2**20


def publish_day(plan: NightPlan, client, settings, done: threading.Event) -> NightSimulator:  # noqa: ANN001
    sim = NightSimulator(plan)
    StreamPublisher(client, settings.inventory_stream).publish(sim.inventory())
    publisher = StreamPublisher(client, settings.orders_stream, 5000)
    for batch in sim.batches():
        while client.xlen(settings.orders_stream) > BACKLOG_HIGH:  # the worker is behind
            while client.xlen(settings.orders_stream) > BACKLOG_LOW:
                time.sleep(0.5)
        publisher.publish(batch.payloads)
    done.set()
    return sim


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("bench-data/full-day"))
    parser.add_argument("--peak-ops", type=int, default=PEAK_OPS)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    shutil.rmtree(args.data, ignore_errors=True)
    plan = NightPlan(seed=24, peak_ops=args.peak_ops, start_s=0,
                     duration_s=int(args.hours * 3600),
                     incidents=tuple(every_kind(0, int(args.hours * 3600), 24)))
    print(f"machine: {machine()}\nday: ~{plan.expected_orders():,.0f} orders expected", flush=True)
    with EmbeddedRedis(args.data / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=args.data)
        client = connect(server.url)
        env = {**os.environ, "GMV_DEDUPE_ORDERS": str(int(plan.expected_orders() * 1.01))}
        worker = subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "-q",
                                   "--redis", server.url, "--data", str(args.data)], env=env)
        done = threading.Event()
        result: dict[str, NightSimulator] = {}
        publisher = threading.Thread(target=lambda: result.update(
            sim=publish_day(plan, client, settings, done)), daemon=True)
        started = time.monotonic()
        publisher.start()
        samples: list[tuple[float, int, float]] = []  # (seconds, orders counted, RSS MiB)
        mapped: list[float] = []  # RssFile MiB at each sample
        while True:
            raw = client.get(settings.snapshot_key)
            live = json.loads(raw) if raw else {}
            samples.append((time.monotonic() - started, int(live.get("orders", 0)),
                            rss_mib(worker.pid)))
            mapped.append(rss_mib(worker.pid, "RssFile"))
            if done.is_set() and live.get("lag_ms") == 0 and client.xlen(settings.orders_stream) <= 1:
                break
            time.sleep(2.0)
        publisher.join()
        sim = result["sim"]
        write_labels(args.data / "labels.json", labels_document(sim, "bench.full_day", True))
        worker.terminate()
        worker.wait()
        report(samples, sim, args.data)
        print(f"of the RSS, mapped files (the dedupe table, libraries): at most "
              f"{max(mapped):,.0f} MiB; the rest (RssAnon + shmem) at most "
              f"{max(s[2] - m for s, m in zip(samples, mapped, strict=True)):,.0f} MiB")
        alerts_report(args.data, plan)
        restart(server.url, settings, args.data, env)


def crossed(samples: list[tuple[float, int, float]], orders: float) -> float:
    """When the count passed `orders` (linear between two samples)."""
    for (t0, n0, _), (t1, n1, _) in itertools.pairwise(samples):
        if n0 <= orders <= n1 and n1 > n0:
            return t0 + (t1 - t0) * (orders - n0) / (n1 - n0)
    return samples[0][0] if orders <= samples[0][1] else samples[-1][0]


def report(samples: list[tuple[float, int, float]], sim: NightSimulator, data: Path) -> None:
    total = samples[-1][1]
    elapsed = samples[-1][0]
    print(f"counted {total:,} orders (truth {sim.truth.accepted:,}) in {elapsed / 60:.1f} min: "
          f"{total / elapsed:,.0f} orders/s overall", flush=True)
    print("tenth  orders/s   RSS max (MiB)")
    for tenth in range(10):
        low, high = total * tenth / 10, total * (tenth + 1) / 10
        span = crossed(samples, high) - crossed(samples, low)
        inside = [s for s in samples if low <= s[1] <= high] or samples[-1:]
        print(f"  {tenth + 1:>2}   {(high - low) / span if span > 0 else 0.0:>9,.0f}   "
              f"{max(s[2] for s in inside):>8,.0f}")
    files = json.loads((data / "history" / "manifest.json").read_text())["files"]
    store = du_mib(*[p for p in (data / "gmv.duckdb", data / "gmv.duckdb.wal") if p.exists()])
    print(f"store {store:,.0f} MiB, history "
          f"{du_mib(data / 'history'):,.0f} MiB in {len(files)} files "
          f"({du_mib(data / 'history') * 2**20 / max(total, 1):.1f} bytes an order)")


def alerts_report(data: Path, plan: NightPlan) -> None:
    """The day's alerts against its labelled incidents: what was found, what fired alone, and any
    alert that stayed open more than ten minutes after its cause ended (issue #25)."""
    alerts = read_alerts(data)
    incidents = json.loads((data / "labels.json").read_text())["incidents"]
    score = Score()
    score.add_night(alerts, incidents, plan.duration_s / 3600)
    night_end = plan.midnight_ms + plan.end_s * 1000
    overstays = score.overstays(alerts, incidents, night_end)
    print(f"alerts: {score.detected}/{score.incidents} incidents detected, "
          f"{len(score.false_alarms)} false alarms, {len(overstays)} open > 10 min after their "
          f"cause ended")
    for alert, minutes in overstays:
        print(f"  overstay: {alert['kind']} {alert['dimension']} {alert['start']} "
              f"{minutes:,.0f} min: {alert['message']}")
    for alert in score.false_alarms:
        print(f"  false alarm: {alert['kind']} {alert['dimension']} {alert['start']}")
    for incident in score.missed:
        print(f"  missed: {incident['kind']} {incident.get('dimension')} "
              f"{incident.get('start_ms')}..{incident.get('end_ms')}")


def restart(url: str, settings, data: Path, env: dict[str, str]) -> None:  # noqa: ANN001
    """A worker started again over the whole day: until it has committed new orders; how it
    made its dedupe table (mapped from its files, or rebuilt from the history) from its log."""
    client = connect(url)
    log = data / "restart.log"
    started = time.monotonic()
    worker = subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "--redis", url,
                               "--data", str(data)], env=env, stderr=log.open("w"))
    before = json.loads((data / "summary.json").read_text())["orders"]
    sim = NightSimulator(NightPlan(seed=99, peak_ops=100, start_s=86_000, duration_s=10))
    StreamPublisher(client, settings.orders_stream).publish(
        [p for b in sim.batches() for p in b.payloads])
    while json.loads((data / "summary.json").read_text())["orders"] <= before:
        time.sleep(0.1)
    took, rss = time.monotonic() - started, rss_mib(worker.pid)
    said = re.search(r"event=dedupe_rebuilt (\S+) .*seconds=(\S+)", log.read_text())
    how = f"table {said.group(1)}, made in {said.group(2)} s" if said else "no dedupe line"
    print(f"restart over {before:,} remembered orders: first commit {took:.1f} s after the start "
          f"({how}); RSS then {rss:,.0f} MiB")
    worker.terminate()
    worker.wait()


if __name__ == "__main__":
    main()
