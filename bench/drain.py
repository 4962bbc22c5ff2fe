"""Drain rate: a pre-filled stream of ~2.1M events (duplicates, malformed, late) from the
embedded Redis with AOF on, counted by one `gmv ingest --until-idle` process into committed
windows, parts and the snapshot. Beside it, in the same run: Python's own XREAD ceiling (raw
replies, nothing done with them), redis-benchmark's XADD ceiling, the Bytewax peer on the same
stream, and the worker's time per stage next to what each stage does alone on the same batches."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bench.publish import ceiling, machine
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from ingest.checkpoint import with_fingerprints
from ingest.decode import decode_batch
from ingest.dedupe import SeenOrders, fingerprints
from ingest.parts import write_part
from ingest.read import Entries, StreamReader
from ingest.store import Commit, Store
from ingest.windows import merchant_minutes, window_deltas
from ingest.wire import COMPILED
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

PLAN = NightPlan(seed=2, peak_ops=8000)  # ten minutes around midnight: ~2.1M events
BATCH = 20_000


def read_ceiling(client, stream: str, compiled: bool = False,  # noqa: ANN001
                 decode: bool = False) -> tuple[float, list[Entries]]:
    """XREAD of BATCH entries from the start to the end; the batches, kept. `compiled`: by the
    compiled reader (buffers), else raw replies through redis-py (hiredis: Python objects per
    entry, the ceiling); `decode`: each batch decoded too, as the worker does.
    (The collector is off, as in the worker: millions of kept entries would make it crawl.)"""
    reader = StreamReader(client, stream, None, BATCH, 1, compiled=compiled)
    batches, count = [], 0
    started = time.perf_counter()
    for entries in reader.batches():
        if not entries:
            break
        if decode:
            decode_batch(entries, 300_000)
        batches.append(entries)
        count += len(entries)
    return count / (time.perf_counter() - started), batches


def stage_ceilings(batches: list[Entries], tmp: Path) -> dict[str, float]:
    """Events per second of each stage alone, on the same batches, in this process."""
    events = sum(len(b) for b in batches)
    rates: dict[str, float] = {}

    def timed(name: str, run) -> object:  # noqa: ANN001
        started = time.perf_counter()
        out = run()
        rates[name] = events / (time.perf_counter() - started)
        return out

    decoded = timed("decode", lambda: [decode_batch(b, 300_000).orders for b in batches])
    seen = SeenOrders(4_000_000)

    def dedupe() -> list[pa.Table]:
        kept = []
        for orders in decoded:  # type: ignore[attr-defined]
            hi, lo = fingerprints(orders["order_id"], (1, 2))
            kept.append(with_fingerprints(orders, hi, lo).filter(pa.array(seen.first_seen(hi, lo))))
        return kept

    accepted = timed("dedupe", dedupe)
    checkpoints = [pa.concat_tables(accepted[i:i + 5]) for i in range(0, len(accepted), 5)]  # type: ignore[index]
    aggregated = timed("aggregate", lambda: [(window_deltas(c), merchant_minutes(c))
                                             for c in checkpoints])
    parts = timed("part", lambda: [write_part(tmp, c, i + 1) for i, c in enumerate(checkpoints)])
    store = Store(tmp / "bench.duckdb")
    items = pa.table({"item_id": pa.array([], pa.string()), "quantity": pa.array([], pa.int64())})

    def commit() -> None:
        for i, (c, (windows, merchants)) in enumerate(zip(checkpoints, aggregated,  # type: ignore[arg-type]
                                                          strict=True)):
            store.commit("s", Commit(f"{i}-0", c.num_rows, 0, 0, windows, merchants, items,
                                     parts[i]))  # type: ignore[index]

    timed("commit", commit)
    store.close()
    return rates


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
        run = subprocess.run([sys.executable, "-m", "gmv.cli", "ingest", "--until-idle",
                              "--redis", server.url, "--data", str(settings.data_dir)],
                             check=True, capture_output=True, text=True,
                             env={"GMV_TRIM_STREAM": "no", "PATH": "/usr/bin:/bin"})
        elapsed = time.perf_counter() - started
        worker = sent / elapsed
        print(f"{'gmv ingest (one process, to committed parts + windows + snapshot)':<66}"
              f"{worker:>12,.0f}/s", flush=True)
        stages = dict(re.findall(r"(\w+):([\d.]+)", re.search(r"stages_s=(\S+)",
                                                              run.stderr)[1]))  # type: ignore[index]
        gc.disable()
        ceiling_rate, _ = read_ceiling(client, settings.orders_stream)
        print(f"{'ceiling: XREAD of 20k, raw replies, in Python, nothing done':<66}"
              f"{ceiling_rate:>12,.0f}/s   (gmv ingest = {worker / ceiling_rate:.1%})",
              flush=True)
        read, batches = read_ceiling(client, settings.orders_stream, compiled=COMPILED)
        both, _ = read_ceiling(client, settings.orders_stream, compiled=COMPILED, decode=True)
        print(f"{'the compiled reader alone (XREAD of 20k into buffers)':<66}{read:>12,.0f}/s"
              + ("" if COMPILED else "   (ingest._resp not built: redis-py)"))
        print(f"{'the compiled reader-decoder alone (read + decode)':<66}{both:>12,.0f}/s",
              flush=True)
        try:
            from bench.bytewax_peer import run as bytewax_run
        except ImportError:
            print("bytewax: not installed (pip install '.[bench]')")
        else:
            started = time.perf_counter()
            bytewax_run(server.url, settings.orders_stream)
            peer = sent / (time.perf_counter() - started)
            print(f"{'peer: Bytewax 0.21, the per-second job, in memory':<66}{peer:>12,.0f}/s"
                  f"   (gmv ingest = {worker / peer:.1f}x)", flush=True)
        xadd = ceiling(server.url, 223, 1_000_000)
        print(f"{'ceiling: XADD by redis-benchmark (C, pipelined)':<66}"
              f"{xadd or 0:>12,.0f}/s" + ("" if xadd else "   (redis-tools not installed)"))
        alone = stage_ceilings(batches, Path(tmp) / "stages")
        print(f"\nper stage, in the worker (share of its {elapsed:.1f} s) and alone (events/s):")
        for stage in ("read", "decode", "dedupe", "aggregate", "part", "commit", "detect",
                      "publish"):
            seconds = float(stages.get(stage, 0))
            solo = f"{alone[stage]:>12,.0f}/s" if stage in alone else \
                (f"{read:>12,.0f}/s" if stage == "read" else f"{'-':>14}")
            print(f"  {stage:<10} {seconds:>6.2f} s {seconds / elapsed:>6.1%}   alone {solo}")


if __name__ == "__main__":
    main()
