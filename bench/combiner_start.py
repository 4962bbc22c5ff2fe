"""The combiner's start over a partitioned day: how long `gmv combine` takes from its start to
its first published snapshot, against the day's size.

Each day is built without a night's run: P partitions of synthetic orders spread over a
festival day, written as hourly Parquet files by the worker's own compaction writer and named
in each partition's manifest, as a worker leaves a day it has drained. Then a combiner starts
over it (a fresh embedded redis-server) and runs until idle: first with no checkpoint of its own
(it reads every file, as every start did before), then again from the checkpoint it saved, then
once more after 20 fresh parts a partition were committed beside the day (written by the
worker's own part writer). Each time its totals are checked against the orders written.

    python -m bench.combiner_start                        # 1M, 3M, 10M orders over 2 partitions
    python -m bench.combiner_start --orders 1e6,1e7,3e7,1e8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.publish import machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import Settings, load_settings
from ingest.combine import Combiner
from ingest.compaction import HOUR_MS, _HourWriter
from ingest.contract import midnight_ms
from ingest.history import Manifest, orders_dir, publish_manifest, read_whole_manifest
from ingest.parts import write_part
from ingest.store import FileEntry

HERE = Path(__file__).resolve().parents[1]  # this checkout
DAY = "2026-11-11"
ID_WIDTH = 16
DEVICES = ["mobile", "pc", "pad", "other"]
CATEGORIES = [f"c{i:02d}" for i in range(20)]
REGIONS = [f"R{i:02d}" for i in range(34)] + ["overseas"]
PAYMENTS = ["alipay", "huabei", "card", "wechat"]
MERCHANTS = [f"m{i:06d}" for i in range(20_000)]


def _ids(first: int, count: int) -> pa.Array:
    """`count` distinct fixed-width ids from `first` on, built as bytes, not Python strings."""
    digits = np.arange(first, first + count, dtype=np.int64)[:, None] // \
        10 ** np.arange(ID_WIDTH - 1, -1, -1, dtype=np.int64) % 10
    data = (digits + ord("0")).astype(np.uint8).tobytes()
    offsets = (np.arange(count + 1, dtype=np.int32) * ID_WIDTH).tobytes()
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _pick(values: list[str], rng: np.random.Generator, count: int) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(rng.integers(0, len(values), count)))


def hour_orders(hour_ms: int, first_id: int, count: int, rng: np.random.Generator) -> pa.Table:
    ids = _ids(first_id, count)
    return pa.table({
        "order_id": ids, "ts_ms": np.sort(hour_ms + rng.integers(0, HOUR_MS, count)),
        "amount_cents": rng.integers(1, 100_000, count),
        "device": _pick(DEVICES, rng, count), "category": _pick(CATEGORIES, rng, count),
        "region": _pick(REGIONS, rng, count), "merchant_id": _pick(MERCHANTS, rng, count),
        "buyer_id": ids, "item_id": _pick(MERCHANTS, rng, count),
        "quantity": rng.integers(1, 5, count), "payment": _pick(PAYMENTS, rng, count),
        "fp_hi": rng.integers(0, 2**63, count, dtype=np.uint64),
        "fp_lo": rng.integers(0, 2**63, count, dtype=np.uint64)})


def build_day(settings: Settings, orders: int, seed: int = 7) -> tuple[int, int]:
    """`orders` over the partitions and the day's 24 hours; (orders, gmv_cents) written."""
    rng = np.random.default_rng(seed)
    midnight = midnight_ms(date.fromisoformat(DAY))
    total_cents = written = 0
    per_file = orders // settings.partitions // 24
    for p in range(settings.partitions):
        data_dir = settings.for_partition(p).data_dir
        orders_dir(data_dir).mkdir(parents=True, exist_ok=True)
        files: list[FileEntry] = []
        for hour in range(24):
            hour_ms = midnight + hour * HOUR_MS
            writer = _HourWriter(orders_dir(data_dir), hour_ms // HOUR_MS)
            for start in range(0, per_file, 1_000_000):
                count = min(1_000_000, per_file - start)
                table = hour_orders(hour_ms, written, count, rng)
                written += count
                total_cents += int(np.sum(table["amount_cents"].to_numpy()))
                writer.write(table)
            files.append(writer.close())
        last_s = (midnight + 24 * HOUR_MS) // 1000 - 1
        publish_manifest(data_dir, Manifest(files, f"{last_s * 1000}-0", 1000, 1000, [], 0, 0,
                                            last_s))
    return written, total_cents


def start_s(settings: Settings, url: str) -> tuple[float, int, int]:
    """Seconds from the combiner's start to the end of its first look (its snapshot published),
    and the orders and GMV it holds."""
    client = connect(url)
    started = time.perf_counter()
    combiner = Combiner(client, settings)
    combiner.run(until_idle=True)
    return time.perf_counter() - started, combiner.state.orders, combiner.state.gmv_cents


_BEFORE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from common.redis_server import connect
from common.settings import load_settings
from ingest.combine import Combiner
settings = load_settings(env={}, redis_url=sys.argv[2], data_dir=Path(sys.argv[3]),
                         partitions=int(sys.argv[4]))
started = time.perf_counter()
combiner = Combiner(connect(sys.argv[2]), settings)
combiner.run(until_idle=True)
print(time.perf_counter() - started, combiner.state.orders, combiner.state.gmv_cents)
"""


def start_before_s(checkout: Path, settings: Settings, url: str) -> tuple[float, int, int]:
    """The same start by the combiner of another checkout (e.g. `git archive` of the commit
    before), in its own process."""
    done = subprocess.run([sys.executable, "-c", _BEFORE, str(checkout), url,
                           str(settings.data_dir), str(settings.partitions)],
                          capture_output=True, text=True, check=True, cwd=checkout)
    seconds, orders, cents = done.stdout.split()
    return float(seconds), int(orders), int(cents)


def add_parts(settings: Settings, parts: int, first_id: int) -> tuple[int, int]:
    """`parts` fresh parts of 10,000 orders more in each partition, committed after the day as a
    worker does (its part file, then its manifest naming it); (orders, gmv_cents) added."""
    rng = np.random.default_rng(first_id)
    added = cents = 0
    for p in range(settings.partitions):
        data_dir = settings.for_partition(p).data_dir
        manifest = read_whole_manifest(data_dir)
        files, checkpoint = list(manifest.files), manifest.checkpoint
        for _ in range(parts):
            checkpoint += 1
            table = hour_orders(0, first_id + added, 10_000, rng)  # a commit's: ~1 s of orders
            seconds = (manifest.clock_s or 0) - parts + checkpoint - manifest.checkpoint
            table = table.set_column(1, "ts_ms", pa.array(
                np.sort(seconds * 1000 + table["ts_ms"].to_numpy() % 1000)))
            entry = write_part(data_dir, table, checkpoint)
            assert entry is not None
            files.append(entry)
            added += table.num_rows
            cents += int(np.sum(table["amount_cents"].to_numpy()))
        publish_manifest(data_dir, replace(manifest, files=files, checkpoint=checkpoint))
    return added, cents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", default="1e6,3e6,1e7", help="day sizes, e.g. 1e6,1e7,1e8")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--before", type=Path, help="a checkout of the commit before (`git "
                        "archive`): its combiner's start measured on the same days first")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    for size in (int(float(n)) for n in args.orders.split(",")):
        with tempfile.TemporaryDirectory(prefix="gmv-combiner-start-") as tmp, \
                EmbeddedRedis(Path(tmp) / "redis") as server:
            settings = load_settings(env={}, redis_url=server.url, data_dir=Path(tmp) / "data",
                                     partitions=args.partitions)
            built = time.perf_counter()
            orders, cents = build_day(settings, size)
            built_s = time.perf_counter() - built
            before = ""
            if args.before:
                seconds, held, held_cents = start_before_s(args.before, settings, server.url)
                assert (held, held_cents) == (orders, cents), (held, orders, held_cents, cents)
                before = f"the commit before's start {seconds:.2f} s; "
            first, held, held_cents = start_s(settings, server.url)  # no checkpoint: every file
            assert (held, held_cents) == (orders, cents), (held, orders, held_cents, cents)
            # Restarts in a process of their own, as a restart is: every file's checksum is
            # checked again (this process checked them all in its first start).
            again, held, held_cents = start_before_s(HERE, settings, server.url)
            assert (held, held_cents) == (orders, cents), (held, orders, held_cents, cents)
            more, more_cents = add_parts(settings, 20, orders)
            after, held, held_cents = start_before_s(HERE, settings, server.url)
            assert (held, held_cents) == (orders + more, cents + more_cents)
            print(f"{orders:>12,} orders over {args.partitions} partitions (built in "
                  f"{built_s:.0f} s): {before}first start (reads every file) {first:.2f} s; restart "
                  f"from its checkpoint {again:.2f} s; with {more:,} orders committed since "
                  f"{after:.2f} s", flush=True)


if __name__ == "__main__":
    main()
