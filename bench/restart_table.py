"""A restart over ~100M remembered orders without the day that made them: a worker commits a
few orders (a real store and real table files), its table files are then filled with random
fingerprints up to --orders (as the worker fills them, committed at the store's checkpoint), and
a worker started again over them is timed to its first commit (it maps the files; the rebuild
they replace took 33 s over 101M keys). Also: the resident memory of the table when full."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.full_day import rss_mib
from bench.publish import machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from ingest.generations import (
    Generations,
    dedupe_dir,
    generation_orders,
    key_digest,
    open_generations,
)
from ingest.read import id_key
from ingest.store import Store
from rehearsal.publish import StreamPublisher
from rehearsal.simulate import NightPlan, NightSimulator

CLI = [sys.executable, "-m", "gmv.cli", "ingest"]
FILL_BATCH = 1_000_000


def few_orders(seed: int) -> list[bytes]:
    sim = NightSimulator(NightPlan(seed=seed, peak_ops=100, start_s=86_000, duration_s=10))
    return [p for b in sim.batches() for p in b.payloads]


def resident_mib() -> float:
    """This process's resident memory (the mapped table's pages count)."""
    return rss_mib(os.getpid())


def fill(data: Path, orders: int, dedupe_orders: int) -> None:
    """The table files of the store at `data` filled with `orders` random fingerprints, as
    committed at the store's checkpoint, closed cleanly (written to disk)."""
    store = Store(data / "gmv.duckdb")
    key, checkpoint, position = store.fingerprint_key(), store.checkpoint, store.position()
    store.close()
    folder = dedupe_dir(data)
    opened = open_generations(folder, key_digest(key), checkpoint)
    tables = Generations(folder, opened.generations, checkpoint, generation_orders(dedupe_orders),
                         lambda step: None)
    rng = np.random.default_rng(100)
    started, before = time.monotonic(), resident_mib()
    for start in range(0, orders, FILL_BATCH):
        n = min(FILL_BATCH, orders - start)
        h1 = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64) * np.uint64(2)
        h2 = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64)
        tables.first_seen(h1, h2)
    tables.committed(checkpoint, id_key(position or "0-0")[0] // 1000)
    print(f"filled {tables.count:,} fingerprints in {len(tables.live)} generations "
          f"({tables.nbytes / 2**20:,.0f} MiB mapped) in {time.monotonic() - started:.1f} s; "
          f"resident +{resident_mib() - before:,.0f} MiB", flush=True)
    started = time.monotonic()
    tables.close(clean=True)
    print(f"clean close (msync of the files): {time.monotonic() - started:.1f} s", flush=True)


def drop_page_cache() -> bool:
    """The files read from disk at the restart, not from memory (root only)."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def first_commit(url: str, data: Path, env: dict[str, str], log: Path, seed: int) -> None:
    """A worker started over the filled table: until it has committed new orders."""
    client = connect(url)
    settings = load_settings(env={}, redis_url=url, data_dir=data)
    before = json.loads((data / "summary.json").read_text())["orders"]
    started = time.monotonic()
    worker = subprocess.Popen([*CLI, "--redis", url, "--data", str(data)], env=env,
                              stderr=log.open("w"))
    StreamPublisher(client, settings.orders_stream).publish(few_orders(seed))
    while json.loads((data / "summary.json").read_text())["orders"] <= before:
        time.sleep(0.05)
    took = time.monotonic() - started
    rss = rss_mib(worker.pid)
    worker.terminate()
    worker.wait()
    said = re.search(r"event=dedupe_rebuilt .*", log.read_text())
    print(f"restart: first commit {took:.2f} s after the start; RSS then {rss:,.0f} MiB\n"
          f"  {said.group(0) if said else 'no dedupe line'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("bench-data/restart-table"))
    parser.add_argument("--orders", type=int, default=100_000_000)
    parser.add_argument("--dedupe-orders", type=int, default=102_700_000)
    args = parser.parse_args()
    shutil.rmtree(args.data, ignore_errors=True)
    print(f"machine: {machine()}", flush=True)
    env = {**os.environ, "GMV_DEDUPE_ORDERS": str(args.dedupe_orders)}
    with EmbeddedRedis(args.data / "redis") as server:
        client = connect(server.url)
        settings = load_settings(env={}, redis_url=server.url, data_dir=args.data)
        StreamPublisher(client, settings.orders_stream).publish(few_orders(97))
        subprocess.run([*CLI, "--until-idle", "-q", "--redis", server.url, "--data",
                        str(args.data)], env=env, check=True)
        fill(args.data, args.orders, args.dedupe_orders)
        first_commit(server.url, args.data, env, args.data / "warm.log", seed=98)
        if drop_page_cache():
            print("page cache dropped:", flush=True)
            first_commit(server.url, args.data, env, args.data / "cold.log", seed=99)


if __name__ == "__main__":
    main()
