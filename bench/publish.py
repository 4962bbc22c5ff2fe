"""Publishing speed: `gmv replay --max` and `gmv simulate --max` into a fresh embedded Redis,
with and without AOF, next to redis-benchmark's XADD ceiling with the same payload size."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.redis_server import EmbeddedRedis, connect, redis_server_binary
from common.settings import load_settings
from rehearsal.incidents import every_kind
from rehearsal.recordings import read_jsonl
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file, simulate_to_stream
from rehearsal.simulate import NightPlan

PLAN = NightPlan(seed=1, peak_ops=4000, incidents=tuple(every_kind(-120, 600, 1)))  # ~1.06M


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, {platform.python_implementation()} " \
           f"{platform.python_version()}, redis-server {redis_server_binary()}"


def ceiling(url: str, payload_bytes: int, count: int) -> float | None:
    """redis-benchmark (C, pipelined 100, 4 connections) XADD with a payload of the same size."""
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return None
    where = ["-s", url.removeprefix("unix://")] if url.startswith("unix://") else \
        ["-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1].split("/")[0]]
    out = subprocess.run([tool, *where, "-n", str(count), "-P", "100", "-c", "4", "-q",
                          "XADD", "bench:ceiling", "*", "data", "x" * payload_bytes],
                         capture_output=True, text=True, check=True).stdout
    return float(out.rsplit("requests per second", 1)[0].split()[-1])


def run(recording: Path, aof: bool) -> dict[str, float | None]:
    figures: dict[str, float | None] = {}
    lines = [line for batch in read_jsonl(recording) for line in batch]
    mean_bytes = sum(map(len, lines)) // len(lines)
    for job in ("replay", "simulate", "ceiling"):
        home = Path(tempfile.mkdtemp(prefix="gmv-bench-"))
        with EmbeddedRedis(home / "redis", append_only=aof) as server:
            settings = load_settings(env={}, redis_url=server.url, data_dir=home)
            client = connect(server.url)
            started = time.perf_counter()
            if job == "replay":
                sent = replay(recording, client, settings, speed=None, retime=False).published
            elif job == "simulate":
                sent = simulate_to_stream(PLAN, client, settings, None, home / "labels.json",
                                          "bench").truth.sent
            else:
                figures[job] = ceiling(server.url, mean_bytes, len(lines))
                continue
            figures[job] = sent / (time.perf_counter() - started)
        shutil.rmtree(home)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "night.jsonl"
        simulate_to_file(PLAN, recording, "bench")
        sent = json.loads(recording.with_name("night.labels.json").read_text())["truth"]["sent"]
        print(f"machine: {machine()}\nevents: {sent:,} (simulate --seed 1 --incidents all, "
              f"10 min around midnight at 4000 orders/s peak)")
        print(f"{'redis persistence':<20}{'replay --max':>16}{'simulate --max':>16}"
              f"{'redis-benchmark':>18}")
        for aof in (True, False):
            f = run(recording, aof)
            show = lambda v: f"{v:>14,.0f}/s" if v else f"{'n/a':>16}"  # noqa: E731
            print(f"{'AOF everysec' if aof else 'none':<20}{show(f['replay'])}"
                  f"{show(f['simulate'])}{show(f['ceiling']):>18}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
