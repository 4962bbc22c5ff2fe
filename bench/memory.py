"""Memory: the worker's RSS while it counts a whole simulated festival day (00:00-24:00 at a
500 orders/s peak, ~1.6M orders, every incident kind), sampled as it goes."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.publish import machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from rehearsal.incidents import every_kind
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

DAY = NightPlan(seed=4, peak_ops=500, start_s=-120, duration_s=24 * 3600 + 120,
                incidents=tuple(every_kind(-120, 24 * 3600, 4)))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=Path(tmp) / "data")
        client = connect(server.url)
        sent = simulate_to_stream(DAY, client, settings, None, Path(tmp) / "labels.json",
                                  "bench").truth.sent
        worker = subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "--until-idle",
                                   "-q", "--redis", server.url, "--data",
                                   str(settings.data_dir)])
        samples: list[tuple[float, float]] = []  # (share of the day counted, RSS MiB)
        while worker.poll() is None:
            left = client.xlen(settings.orders_stream)
            samples.append((1 - left / sent, rss_mib(worker.pid)))
            time.sleep(0.5)
    print(f"machine: {machine()}\nday: {sent:,} events, {len(samples)} samples")
    for quarter in (0.25, 0.5, 0.75, 1.0):
        rss = max((r for done, r in samples if done <= quarter), default=0.0)
        print(f"  RSS while counting up to {quarter:>4.0%} of the day: max {rss:,.0f} MiB")
    print(f"  peak RSS {max(r for _, r in samples):,.0f} MiB")


if __name__ == "__main__":
    main()
