"""Exactness under faults, run after run: the chaos suite's two Redis scenarios (Redis SIGKILLed
and restarted 8 times under a draining worker; every connection of the worker cut 20 times
during a paced replay) played RUNS times each on the sample night, each run's totals compared
with the night's truth (gmv, orders, rejected, duplicates). Prints one line a run and the tally."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.publish import machine
from common.redis_server import EmbeddedRedis
from tests.chaos.scenarios import (
    connections_killed_under_a_paced_replay,
    redis_killed_under_a_draining_worker,
)
from tests.sample import TRUTH


def exact(totals: dict[str, Any]) -> bool:
    return (totals["gmv"], totals["orders"], totals["rejected"], totals["duplicates"]) == (
        TRUTH["gmv"], TRUTH["accepted"], TRUTH["rejected"], TRUTH["duplicates"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    print(f"# chaos: {machine()}")
    print(f"truth: gmv {TRUTH['gmv']}, orders {TRUTH['accepted']:,}, rejected "
          f"{TRUTH['rejected']:,}, duplicates {TRUTH['duplicates']:,}")
    tally: dict[str, int] = {}
    for name in ("redis_kill_8", "connection_kill_20"):
        for run in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.monotonic()
                if name == "redis_kill_8":
                    totals = redis_killed_under_a_draining_worker(Path(tmp), cycles=8)
                else:
                    with EmbeddedRedis(Path(tmp) / "redis") as server:
                        totals = connections_killed_under_a_paced_replay(Path(tmp), server.url, 20)
                ok = exact(totals)
                tally[name] = tally.get(name, 0) + ok
                print(f"{name} run {run + 1}/{runs}: {'exact' if ok else 'NOT EXACT'} "
                      f"(gmv {totals['gmv']}, orders {totals['orders']:,}, rejected "
                      f"{totals['rejected']:,}, duplicates {totals['duplicates']:,}) "
                      f"in {time.monotonic() - started:.1f} s", flush=True)
    for name, count in tally.items():
        print(f"{name}: {count}/{runs} exact")


if __name__ == "__main__":
    main()
