"""One war room over P partitions (`gmv combine`): the night as one worker would keep it, from
what every partition's worker has committed.

Each partition's worker writes its checkpoint's orders as a fresh part named by the checkpoint,
then commits and names it in its manifest. The combiner follows the manifests and takes each
part exactly once, in checkpoint order: the summed flow feeds one LiveState (so the peak is the
peak of the sums, the top merchants exact), the detectors (a channel going dark is a fact about
all partitions, an item's sales are summed wherever its orders land), and the documents every
reader already knows: the live and night snapshots and the alert feed in Redis under the base
stream's keys, `summary.json` and `history/manifest.json` in the data dir.

It keeps one file of its own, a checkpoint of the combined night and how far it has taken each
partition (ingest/combine_checkpoint.py), saved every few seconds: restarted, it continues from
there (seconds, whatever the day's size), reading only the parts committed since. Without one,
or when a partition's files no longer extend it (a part it had not taken is compacted away, a
store went back), it reads every committed file once, as a part compacted away before it was
read while it runs (it was far behind) makes it read again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import redis

from common.logs import log_event, log_line
from common.redis_server import REDIS_DOWN, get_many
from common.settings import Settings
from common.stopping import stop_on_signals, stop_requested, wait_or_stop
from ingest import combine_checkpoint
from ingest.combine_checkpoint import CombinedCheckpoint, PartitionMark
from ingest.continuity import StreamGap
from ingest.contract import ORDER_SCHEMA
from ingest.detect.watch import STREAM_GAP, Watch
from ingest.faults import FaultPlan
from ingest.history import (
    Manifest,
    items_sold,
    orders_dir,
    part_checkpoint,
    publish_manifest,
    publish_summary,
    read_columns,
    read_summary,
    read_whole_manifest,
    readable,
)
from ingest.integrity import CHECKSUMS
from ingest.live_forecast import LiveForecast
from ingest.live_state import LiveState
from ingest.rate import night_capacity
from ingest.read import id_key
from ingest.snapshot import SnapshotPublisher, now_ms
from ingest.store import FileEntry
from ingest.summary import capacity_of, live_summary
from ingest.windows import WINDOW_DIMENSIONS, WINDOWS, window_deltas

log = logging.getLogger("gmv.combine")
POLL_S = 0.1
REDIS_RETRY_S = 1.0
PUBLISH_FILES_EVERY_S = 1.0
CHECKPOINT_EVERY_S = 5.0  # a restart reads at most this long's commits again
TOP_MERCHANTS = 10
COLUMNS = ORDER_SCHEMA.names  # what the detectors see of an order (not the dedupe key)
STALE_AFTER_MS = 10_000  # a partition whose worker has not beaten for this long is stale


class Rebase(Exception):
    """A part the combiner had not read is gone (compacted): read everything again."""


@dataclass
class Partition:
    index: int
    settings: Settings
    applied: int = 0  # every checkpoint up to this one is in the state
    files: list[FileEntry] = field(default_factory=list)  # the files of what is applied
    position: str | None = None
    rejected: int = 0  # of the checkpoints in the state
    duplicates: int = 0
    latest_s: int | None = None  # the latest event second of its orders taken
    clock_s: int | None = None  # its worker's clock (ingest/clock.py; None: an older worker)
    waiting: bool = False  # steps of it are still to come in the look being taken
    # Checkpoints beyond `applied` already in the state: a look cut short (Redis away in the
    # middle of it) is taken again without counting them twice.
    taken: set[Any] = field(default_factory=set)
    orders: int = 0  # of its orders in the state

    def mark(self) -> PartitionMark:
        return PartitionMark(self.applied, self.files, self.position, self.rejected,
                             self.duplicates, self.latest_s, self.clock_s, self.orders)

    def resume(self, mark: PartitionMark) -> None:
        self.applied, self.files, self.position = mark.applied, mark.files, mark.position
        self.rejected, self.duplicates = mark.rejected, mark.duplicates
        self.latest_s, self.clock_s, self.orders = mark.latest_s, mark.clock_s, mark.orders
        self.taken.clear()

    @property
    def root_name(self) -> str:
        """Where its files are, from the combined manifest's orders dir."""
        return f"../../partitions/{self.index}/history/orders/"


class Combiner:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.partitions = [Partition(p, settings.for_partition(p))
                           for p in range(settings.partitions)]
        self.stopping = False
        self.redis_away = False  # the last look failed on Redis
        self.started_ms = now_ms()
        self.faults = FaultPlan(settings.fault_at)
        self._files_at = 0.0
        self._saved_at = time.monotonic()
        orders_dir(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.state, self.merchants = self._resumed() or self._rebuilt()
        # No store: every declared item's sales so far are read from the files.
        self.watch = Watch(client, settings, _NO_SALES, self._sold_so_far, partitioned=True)
        self._last_beat: dict[str, Any] = {}  # the snapshot's, for the summary's capacity
        self.snapshots = SnapshotPublisher(
            client, (settings.snapshot_key, settings.night_key, settings.snapshot_channel),
            self.state, self._heartbeat, settings.snapshot_interval_ms / 1000,
            LiveForecast(settings))

    def _paths(self) -> list[str]:
        return [str(orders_dir(p.settings.data_dir) / f.name)
                for p in self.partitions for f in p.files if f.kind == "orders"]

    def _resumed(self) -> tuple[LiveState, dict[str, list[int]]] | None:
        """The combined night from the combiner's checkpoint, where every partition's files
        still extend it; None otherwise."""
        started = time.monotonic()
        saved = combine_checkpoint.load(self.settings.data_dir, len(self.partitions),
                                        self.settings.dedupe_horizon_h * 3600)
        if saved is None:
            return None
        for partition, mark in zip(self.partitions, saved.marks, strict=True):
            if not mark.still_holds(read_whole_manifest(partition.settings.data_dir)):
                log_event(log, "combiner_checkpoint_passed", partition=partition.index,
                          applied=mark.applied)
                return None
        for partition, mark in zip(self.partitions, saved.marks, strict=True):
            partition.resume(mark)
        # What it stands on is checked as a full read would (a damaged file is refused):
        # crc32 of the bytes, not the decoding of every order.
        CHECKSUMS.verify(self._paths())
        log_event(log, "combiner_resumed", partitions=len(self.partitions),
                  orders=saved.state.orders, seconds=time.monotonic() - started)
        return saved.state, saved.merchants

    def _save(self, now: bool = False) -> None:
        """The checkpoint, when every look taken is whole (no checkpoint half taken)."""
        if not now and time.monotonic() - self._saved_at < CHECKPOINT_EVERY_S:
            return
        if any(p.taken for p in self.partitions):
            return
        self._saved_at = time.monotonic()
        with self.snapshots.lock:
            saved = combine_checkpoint.document(CombinedCheckpoint(
                self.state.horizon_s, [p.mark() for p in self.partitions], self.state,
                self.merchants))
        combine_checkpoint.save(self.settings.data_dir, saved)

    def _rebuilt(self) -> tuple[LiveState, dict[str, list[int]]]:
        """Every partition's committed orders, read once."""
        started = time.monotonic()
        state = LiveState(horizon_s=self.settings.dedupe_horizon_h * 3600)
        merchants: dict[str, list[int]] = {}
        manifests = [read_whole_manifest(p.settings.data_dir) for p in self.partitions]
        for partition, manifest in zip(self.partitions, manifests, strict=True):
            partition.clock_s = manifest.clock_s
        clock = self._clock()
        for partition, manifest in zip(self.partitions, manifests, strict=True):
            partition.files, partition.applied = manifest.files, manifest.checkpoint
            partition.position = manifest.position
            partition.rejected, partition.duplicates = manifest.rejected, manifest.duplicates
            partition.taken.clear()
            partition.latest_s = max((f.max_ts_ms // 1000 for f in manifest.files
                                      if f.kind == "orders" and f.max_ts_ms is not None),
                                     default=None)
            state.rejected += manifest.rejected
            state.duplicates += manifest.duplicates
            paths = [str(orders_dir(partition.settings.data_dir) / f.name)
                     for f in manifest.files if f.kind == "orders"]
            partition.orders = 0
            for batch in read_columns(paths, COLUMNS):
                self._add_orders(state, merchants, pa.Table.from_batches([batch]), clock,
                                 totals_only=True)
                partition.orders += batch.num_rows
        state.top_merchants = _top(merchants)
        log_event(log, "combiner_rebuilt", partitions=len(self.partitions), orders=state.orders,
                  seconds=time.monotonic() - started)
        return state, merchants

    def _add_orders(self, state: LiveState, merchants: dict[str, list[int]], orders: pa.Table,
                    clock_cap_s: int | None, totals_only: bool = False) -> pa.Table:
        """`totals_only`: no detector sees these deltas, so the dimensions the state keeps
        only as totals are summed by value, not by second (a rebuild's rows ~5 a second, not
        ~65: the state's loop over them was two thirds of a start)."""
        deltas = _state_deltas(orders) if totals_only else window_deltas(orders)
        if not orders.num_rows:
            return deltas
        for second in state.add(deltas, 0, 0, clock_cap_s):
            state.late_behind(second, self._second_orders(second))
        sums = orders.group_by("merchant_id", use_threads=False).aggregate(
            [("amount_cents", "sum"), ("amount_cents", "count")]).to_pydict()
        for merchant, gmv, count in zip(sums["merchant_id"], sums["amount_cents_sum"],
                                        sums["amount_cents_count"], strict=True):
            pair = merchants.setdefault(merchant, [0, 0])
            pair[0] += count
            pair[1] += gmv
        return deltas

    def _second_orders(self, second: int) -> int:
        """A second's orders over every partition, from the files (a late order far behind)."""
        where = (ds.field("ts_ms") >= second * 1000) & (ds.field("ts_ms") < second * 1000 + 1000)
        return sum(b.num_rows for b in read_columns(self._paths(), ["ts_ms"], where))

    def _sold_so_far(self, items: list[str]) -> pa.Table:
        """item_id, quantity of `items` in the committed orders."""
        return items_sold(self._paths(), items)

    def run(self, until_idle: bool = False) -> None:
        log_event(log, "combiner_started", partitions=len(self.partitions),
                  orders=self.state.orders)
        self.snapshots.start()
        # What was already committed is judged where a total says it all (an item's stock
        # against its sales so far); the flow's detectors start from here.
        self._apply(self.partitions[0], _EMPTY, 0, 0)
        self._publish_files(now=True)
        self.snapshots.publish(night_too=True)
        try:
            while not self.stopping:
                try:
                    took = self._follow()
                    if not took:  # Redis may be away here too: retried like a look
                        self._quiet()
                        if until_idle and self._all_idle():
                            break
                    self.redis_away = False
                except Rebase as why:
                    log_line(log, logging.WARNING, "combiner_rebased", reason=str(why))
                    with self.snapshots.lock:
                        fresh, self.merchants = self._rebuilt()
                        self.state.__dict__.update(fresh.__dict__)
                    continue
                except REDIS_DOWN as err:
                    self.redis_away = True
                    log_line(log, logging.WARNING, "redis_unavailable",
                             error=str(err).splitlines()[0][:120])
                    self._wait(REDIS_RETRY_S)
                    continue
                if not took:
                    self._wait(POLL_S)
        finally:
            self._publish_files(now=True)
            self._save(now=True)
            if until_idle:
                self.snapshots.settle()
            if not self.redis_away:  # the last word; a Redis that is away would only delay the stop
                with contextlib.suppress(redis.RedisError):
                    self.snapshots.publish(night_too=True)
            self.snapshots.stop()
            self.watch.close()

    def _wait(self, seconds: float) -> None:
        """A pause that a stop request (SIGTERM, Ctrl-C: common.stopping) ends at once."""
        if wait_or_stop(seconds):
            self.stopping = True

    def _follow(self) -> bool:
        """Every partition's checkpoints committed since the last look, taken in the order of
        their arrival across partitions (as one worker would have met them); False when there
        were none."""
        self.watch.read_stock()  # declared items' sales so far: from the files taken until now
        news: list[tuple[Partition, Manifest, list[FileEntry]]] = []
        for partition in self.partitions:
            manifest = read_whole_manifest(partition.settings.data_dir)
            if manifest.checkpoint <= partition.applied:
                continue
            if manifest.compacted_through > partition.applied:
                raise Rebase(f"partition {partition.index}: parts up to checkpoint "
                             f"{manifest.compacted_through} compacted, "
                             f"{partition.applied} read")
            news.append((partition, manifest, sorted(
                (f for f in manifest.files if (c := part_checkpoint(f.name)) is not None
                 and c > partition.applied), key=lambda f: f.name)))
        if not news:
            return False
        # One step per checkpoint, in the order of arrival across partitions: (arrival ms,
        # partition, checkpoint, its orders, rejected, duplicates). A checkpoint the manifest no
        # longer tells of (after a worker's restart) goes by its orders' event time.
        steps: list[tuple[int, int, Any, pa.Table, int, int]] = []
        for partition, manifest, parts in news:
            told = {c[0]: c for c in manifest.recent if c[0] > partition.applied}
            folder = orders_dir(partition.settings.data_dir)
            tables: dict[int, tuple[int, pa.Table]] = {}
            try:
                for f in parts:
                    checkpoint = part_checkpoint(f.name) or 0
                    if checkpoint not in partition.taken:
                        tables[checkpoint] = (f.max_ts_ms or 0, _part_orders(folder / f.name))
            except FileNotFoundError as err:  # compacted away since the manifest was read
                raise Rebase(f"partition {partition.index}: {err}") from None
            rejected, duplicates = self._counters_of(partition, manifest)
            for checkpoint in sorted((set(told) | set(tables)) - partition.taken):
                arrival, orders = tables.get(checkpoint, (0, _EMPTY))
                _, arrival, r, d = told.get(checkpoint, (checkpoint, arrival, 0, 0))
                steps.append((arrival, partition.index, checkpoint, orders, r, d))
                rejected, duplicates = rejected - r, duplicates - d
            rest = ("rest", manifest.checkpoint)  # counts the manifest did not tell apart
            if (rejected or duplicates or not steps) and rest not in partition.taken:
                steps.append((steps[-1][0] if steps else 0, partition.index, rest,
                              _EMPTY, rejected, duplicates))
            partition.position = manifest.position
        steps.sort(key=lambda step: (step[0], step[1]))
        # A partition's clock moves to its manifest's with its last step, not before: judged by
        # it while its earlier steps wait, the seconds they hold would read a third short (an
        # `orders_drop` at 33-65 % whenever the combiner took several commits in one look).
        clocks = {partition.index: manifest.clock_s for partition, manifest, _ in news}
        last = {index: i for i, (_, index, *_) in enumerate(steps)}
        for partition in self.partitions:
            partition.waiting = partition.index in last
        for i, (arrival, index, checkpoint, orders, rejected, duplicates) in enumerate(steps):
            if last[index] == i:
                self.partitions[index].clock_s = clocks[index]
                self.partitions[index].waiting = False
            self._apply(self.partitions[index], orders, rejected, duplicates, checkpoint,
                        arrival or None)
        for partition, manifest, _ in news:
            partition.clock_s = manifest.clock_s
            partition.applied, partition.files = manifest.checkpoint, manifest.files
            partition.taken.clear()
        self._after()
        return True

    def _apply(self, partition: Partition, orders: pa.Table, rejected: int,
               duplicates: int, checkpoint: Any = None, arrival_ms: int | None = None) -> None:
        """One part (or a partition's counts alone) into the state, then the detectors, judged
        up to the clock every partition has reached. Once in the state, the checkpoint counts
        as taken, whatever the detectors then meet (Redis away: the look is taken again)."""
        cap = max((id_key(p.position)[0] // 1000 for p in self.partitions if p.position),
                  default=None)
        if (clock := self._clock()) is not None:  # the workers' clocks, from their orders' bulk
            cap = clock if cap is None else min(cap, clock)
        with self.snapshots.lock:
            deltas = self._add_orders(self.state, self.merchants, orders, cap)
            self.state.rejected += rejected
            self.state.duplicates += duplicates
            partition.orders += orders.num_rows
            if checkpoint is not None:
                partition.taken.add(checkpoint)
                partition.rejected += rejected
                partition.duplicates += duplicates
        self.faults.reached("combine_after_apply")
        if orders.num_rows:
            newest = pc.max(orders["ts_ms"]).as_py() // 1000
            partition.latest_s = max(partition.latest_s or newest, newest)
        reached = [s for p in self.partitions
                   if (s := p.clock_s if p.clock_s is not None else p.latest_s) is not None]
        # A partition this look is still bringing its first orders of has reached nothing yet:
        # left out, the seconds it holds would be judged a third short (a combiner started
        # before the workers' first commits, as `gmv ingest` starts it). Nothing is judged.
        first = any(p.waiting and p.clock_s is None and p.latest_s is None
                    for p in self.partitions)
        clock_s = min(min(reached), self.state.latest_second() or 0) \
            if reached and not first else 0
        self.watch.after_checkpoint(orders, orders.num_rows + rejected + duplicates, rejected,
                                    duplicates, deltas, clock_s * 1000, arrival_ms)

    def _clock(self) -> int | None:
        """The night's clock over every partition: the least of their workers' (None while a
        worker has told none, or is an older one)."""
        clocks = [p.clock_s for p in self.partitions]
        return min(clocks) if clocks and None not in clocks else None  # type: ignore[type-var]

    @staticmethod
    def _counters_of(partition: Partition, manifest: Manifest) -> tuple[int, int]:
        """The rejected and duplicates the partition committed beyond what the state holds
        (the manifest's totals, written with the checkpoints it tells of)."""
        return manifest.rejected - partition.rejected, manifest.duplicates - partition.duplicates

    def _after(self) -> None:
        with self.snapshots.lock:
            self.state.top_merchants = _top(self.merchants)
        self._publish_files()
        self.snapshots.publish()
        self._save()

    def _quiet(self) -> None:
        latest = self.state.latest_second()
        now_s = now_ms() // 1000
        if latest is not None and 0 < now_s - latest <= 600:
            self.watch.quiet(now_s)
        self.watch.flush()
        self.watch.merge_acks()
        self._publish_files()

    def _all_idle(self) -> bool:
        """Every partition's worker has committed all its stream holds."""
        for partition in self.partitions:
            stream = partition.settings.orders_stream
            if not self.client.exists(stream):
                continue
            last = self.client.xinfo_stream(stream)["last-generated-id"]
            if partition.position is None or id_key(last) > id_key(partition.position):
                return False
        return True

    def _publish_files(self, now: bool = False) -> None:
        if not now and time.monotonic() - self._files_at < PUBLISH_FILES_EVERY_S:
            return
        self._files_at = time.monotonic()
        files = [replace(f, name=p.root_name + f.name) for p in self.partitions for f in p.files]
        positions = {str(p.index): p.position for p in self.partitions}
        publish_manifest(self.settings.data_dir, Manifest(
            files, None, sum(p.applied for p in self.partitions), 0))
        with self.snapshots.lock:
            summary = live_summary(self.state, None)
        publish_summary(self.settings.data_dir, {**summary, "position": None,
                                                 "positions": positions,
                                                 **capacity_of(self._last_beat),
                                                 "stream_gaps": self._stream_gaps()})

    def _stream_gaps(self) -> list[dict[str, Any]]:
        """Every partition's gaps (its worker's summary); one not told yet is alerted."""
        gaps: list[dict[str, Any]] = []
        for partition in self.partitions:
            with contextlib.suppress(FileNotFoundError, ValueError):
                gaps += read_summary(partition.settings.data_dir).get("stream_gaps", [])
        told = {a.message for a in self.watch.book.alerts if a.kind == STREAM_GAP.kind}
        for told_gap in gaps:
            gap = StreamGap.from_json(told_gap)
            if gap.message() not in told:
                self.watch.stream_gap(gap, (self.state.latest_second() or 0) * 1000)
                told.add(gap.message())
        return gaps

    def _heartbeat(self) -> dict[str, Any]:
        """The partitions' heartbeats, summed where a sum means something; the oldest beat and
        the largest lag stand for the whole (one stopped worker makes the war room stale)."""
        raws = get_many(self.client, [p.settings.snapshot_key for p in self.partitions])
        beats = [json.loads(raw) if raw else {} for raw in raws]
        now = now_ms()
        each = [{"partition": p.index, "worker": b.get("worker"), "position": p.position,
                 "beat_ms": b.get("heartbeat_ms"), "lag_ms": b.get("lag_ms"),
                 "ingest_eps": b.get("ingest_eps"), "load": b.get("load"),
                 "stale": b.get("heartbeat_ms") is None or now - b["heartbeat_ms"] > STALE_AFTER_MS}
                for p, b in zip(self.partitions, beats, strict=True)]
        known = [b for b in beats if b.get("heartbeat_ms") is not None]
        lags = [b["lag_ms"] for b in known if b.get("lag_ms") is not None]
        stale = [e["partition"] for e in each if e["stale"]]
        self._last_beat = {
            # A partition that never beat counts from the combiner's start: the banner shows.
            "heartbeat_ms": min([b["heartbeat_ms"] for b in known] + (
                [self.started_ms] if len(known) < len(beats) else [])),
            "worker": f"{len(self.partitions) - len(stale)}/{len(self.partitions)} partitions"
            + (f" · stale: {','.join(map(str, stale))}" if stale else ""),
            "position": None, "lag_ms": max(lags) if lags else None,
            # The stream is silent only where every partition's is.
            "stream_quiet_ms": min((b["stream_quiet_ms"] for b in known
                                    if b.get("stream_quiet_ms") is not None), default=None),
            "ingest_eps": sum(b.get("ingest_eps") or 0 for b in known),
            "load": max((b.get("load") or 0 for b in known), default=0),
            "capacity_eps": sum(b.get("capacity_eps") or 0 for b in known) or None,
            "capacity_basis": "sum of partitions",
            # Each partition's capacity as its own screens would show it, summed.
            "capacity_best_eps": sum(night_capacity(b).eps or 0 for b in known) or None,
            "capacity_best_basis": "sum of partitions",
            "partitions": each, "stale_partitions": stale,
            "stream_gaps": sum(b.get("stream_gaps") or 0 for b in known),
            "stream_gap_open": self.watch.gap_open(),
            "stream_lost": None if any(b.get("stream_gaps") and b.get("stream_lost") is None
                                       for b in known)
            else sum(b.get("stream_lost") or 0 for b in known),
        }
        return self._last_beat


def _part_orders(path: Path) -> pa.Table:
    """A fresh part's orders, once its bytes are known to be what its commit recorded."""
    CHECKSUMS.verify([path])
    with readable(path):
        return ds.dataset(str(path), format="ipc").to_table(COLUMNS)


def _state_deltas(orders: pa.Table) -> pa.Table:
    """What LiveState.add keeps of window_deltas: 'all' and device by second, the other
    dimensions' totals by value (stamped with the batch's newest second: add ignores it)."""
    if not orders.num_rows:
        return window_deltas(orders)
    newest = pc.max(orders["ts_ms"]).as_py() // 1000
    table = pa.table({"second": pc.divide(orders["ts_ms"], 1000),
                      "amount_cents": orders["amount_cents"], "all": pa.repeat("all", orders.num_rows),
                      **{d: orders[d] for d in WINDOW_DIMENSIONS}})
    table = table.set_column(table.schema.get_field_index("payment"), "payment",
                             pc.fill_null(table["payment"], "none"))
    parts = []
    for dimension in ("all", *WINDOW_DIMENSIONS):
        by_second = dimension in ("all", "device")
        sums = table.group_by(["second", dimension] if by_second else [dimension],
                              use_threads=False).aggregate([("amount_cents", "sum"),
                                                            ("amount_cents", "count")])
        rows = sums.num_rows
        parts.append(pa.table({
            "second": sums["second"] if by_second else pa.repeat(newest, rows).cast(pa.int64()),
            "dimension": pa.repeat(dimension, rows).cast(pa.string()),
            "value": sums[dimension].cast(pa.string()), "gmv_cents": sums["amount_cents_sum"],
            "orders": sums["amount_cents_count"]}, schema=WINDOWS))
    return pa.concat_tables(parts)


def _top(merchants: dict[str, list[int]]) -> list[tuple[str, int, int]]:
    best = sorted(merchants.items(), key=lambda item: (-item[1][1], item[0]))[:TOP_MERCHANTS]
    return [(merchant, orders, gmv) for merchant, (orders, gmv) in best]


_NO_SALES = pa.table({"item_id": pa.array([], pa.string()), "quantity": pa.array([], pa.int64())})
_EMPTY = ORDER_SCHEMA.empty_table()


def run_combiner(client: redis.Redis, settings: Settings, until_idle: bool) -> None:
    combiner = Combiner(client, settings)
    stop_on_signals()  # its waits end; what it took is published, then it returns
    combiner.stopping = stop_requested()
    combiner.run(until_idle)
    log_event(log, "combiner_stopped", orders=combiner.state.orders)

