"""The ingest loop: read from the committed position, judge each batch (decode, dedupe), and at
each checkpoint write the new orders' part, commit everything with the position in one
transaction, then tell everyone: the history manifest, the summary, the live snapshot."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Protocol

import pyarrow as pa
import pyarrow.dataset as ds
import redis

from common.logs import Progress, log_event, log_line
from common.redis_server import REDIS_DOWN
from common.settings import Settings
from ingest.checkpoint import Checkpoint, with_fingerprints
from ingest.compaction import Compaction, Compactor
from ingest.decode import DECODED, decode_batch
from ingest.dedupe import SeenOrders, fingerprints
from ingest.detect.watch import PartitionWatch, Watch
from ingest.faults import FaultPlan
from ingest.history import (
    Manifest,
    items_sold,
    orders_dir,
    part_checkpoint,
    publish_manifest,
    publish_summary,
    read_columns,
    summary_path,
)
from ingest.integrity import FileProblem
from ingest.live_forecast import LiveForecast
from ingest.live_state import LiveState
from ingest.parts import remove_unnamed, write_part
from ingest.rate import RateMeter
from ingest.read import Entries, StreamReader, id_key
from ingest.snapshot import SnapshotPublisher, now_ms
from ingest.stages import Stages
from ingest.store import Commit, FileEntry, Store, opened
from ingest.summary import capacity_of, live_summary, previous_capacity
from ingest.windows import merchant_minutes, window_deltas

log = logging.getLogger("gmv.ingest")
BLOCK_MS = 100  # well under the socket timeout; a fraction of the checkpoint interval
TRIM_EVERY_S = 5.0
MERCHANTS_EVERY_S = 5.0
PUBLISH_FILES_EVERY_S = 1.0
GC_EVERY_S = 30.0
RECENT_CHECKPOINTS = 2_000  # told in the manifest: ten minutes of commits at 300 ms
COMPACTION_WAIT_S = 120.0
LIVE_WITHIN_S = 600  # event time this close to the wall clock: the night is live, not a replay
UNDECODABLE_LOGS_PER_MIN = 20
ACCEPTED = pa.schema([*DECODED, ("fp_hi", pa.uint64()), ("fp_lo", pa.uint64())])


class Worker:
    def __init__(self, client: redis.Redis, settings: Settings, store: Store,
                 faults: FaultPlan, judges: bool = True) -> None:
        """`judges`: the detectors run here (one partition: the whole night); a partition of
        several leaves them to the combiner."""
        self.client, self.settings, self.store, self.faults = client, settings, store, faults
        self.stream, self.data_dir = settings.orders_stream, settings.data_dir
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.position = store.position()  # committed
        self.read_position = self.position  # taken into the open checkpoint
        self.files = store.files()  # the committed files, kept as each commit changes them
        remove_unnamed(self.data_dir, self.files)
        self.key = store.fingerprint_key()
        self.state = LiveState(horizon_s=settings.dedupe_horizon_h * 3600)
        counters = store.counters()
        self.state.add(store.live_windows(), counters.get("rejected", 0),
                       counters.get("duplicates", 0))
        self.state.top_merchants = store.top_merchants(10)
        self.seen = self._remembered()
        self._remembered_from = self.state.latest_second()
        self.judges = judges
        self.watch: Watch | PartitionWatch = Watch(
            client, settings, store.item_sold(), self._sold_so_far) \
            if judges else PartitionWatch()
        # The night's best capacity, across restarts: a run that starts at a trickle cannot tell.
        self.rate = RateMeter(best_eps=previous_capacity(self.data_dir))
        self.progress = Progress(log, "entries")
        self.pending = Checkpoint(settings.checkpoint_interval_ms / 1000, settings.checkpoint_events)
        self.snapshots = SnapshotPublisher(client, (settings.snapshot_key, settings.night_key),
                                           self.state, self._heartbeat,
                                           settings.snapshot_interval_ms / 1000,
                                           LiveForecast(settings) if judges else None)
        self._at: dict[str, float] = {}
        self.unjudged: list[Entries] = []
        self.stopping = False  # asked to stop (SIGTERM): between two batches, cleanly
        self._merchants_behind = False
        self.stages = Stages()
        self.compactor = Compactor(self.data_dir, faults.reached)
        # When each fresh part was committed; those found at start count as old.
        self.fresh_since = {f.name: 0.0 for f in self.files}
        # Compaction takes every fresh part: those still here came after every compacted one.
        parts = [c for f in self.files if (c := part_checkpoint(f.name)) is not None]
        self.compacted_through = min(parts) - 1 if parts else store.checkpoint
        self.recent: deque[list[int]] = deque(maxlen=RECENT_CHECKPOINTS)
        self._undecodable_logged: list[float] = []
        self._files_behind = False
        self._failures = 0
        self._publish_files(now=True)

    def _files(self) -> list[str]:
        return [str(orders_dir(self.data_dir) / f.name) for f in self.files
                if f.kind == "orders"]

    def _forget_behind_horizon(self) -> None:
        """Every half horizon of event time, the dedupe table is rebuilt from what lies within
        it (right after a commit: every key it holds is then in the committed files)."""
        latest, since = self.state.latest_second(), self._remembered_from
        half = self.settings.dedupe_horizon_h * 1800
        if latest is not None and (since is None or latest - since >= half):
            if since is not None:
                # Every key it holds is committed: the old table goes before the new is built,
                # so memory never holds two.
                del self.seen
                self.seen = self._remembered()
            self._remembered_from = latest

    def _remembered(self) -> SeenOrders:
        """The dedupe table rebuilt from the keys the committed orders carry, within the horizon."""
        started = time.monotonic()
        since_ms = ((self.state.latest_second() or 0) - self.settings.dedupe_horizon_h * 3600) * 1000
        within = sum(f.rows for f in self.files
                     if f.kind == "orders" and (f.max_ts_ms or 0) >= since_ms)
        seen = SeenOrders(max(self.settings.dedupe_orders, within))
        for batch in read_columns(self._files(), ["fp_hi", "fp_lo"], ds.field("ts_ms") >= since_ms):
            seen.first_seen(batch.column(0).to_numpy(), batch.column(1).to_numpy())
        log_event(log, "dedupe_rebuilt", orders=seen.count, slots=len(seen.table),
                  mib=seen.nbytes >> 20, seconds=time.monotonic() - started)
        return seen

    def run(self, until_idle: bool = False) -> None:
        log_event(log, "worker_started", stream=self.stream, store=self.store.path,
                  position=self.position, orders=self.state.orders)
        gc.disable()  # the reader makes millions of short-lived objects; collected on a clock
        gc.freeze()
        self.snapshots.start()
        try:
            while True:
                try:
                    if self._serve(until_idle):
                        return
                except REDIS_DOWN as err:
                    self._failures += 1
                    wait_s = min(0.1 * 2 ** self._failures, 5.0)
                    log_line(log, logging.WARNING, "redis_unavailable", attempt=self._failures,
                             retry_in_s=wait_s, error=str(err).splitlines()[0][:120])
                    time.sleep(wait_s)
        finally:
            self.compactor.close()
            self.snapshots.stop()
            self.watch.close()
            gc.enable()

    def _serve(self, until_idle: bool) -> bool:
        """Read, judge and commit until idle (when asked to stop there: True)."""
        reader = StreamReader(self.client, self.stream, self.read_position,
                              self.settings.ingest_batch_size, BLOCK_MS)
        waited = time.perf_counter()
        for entries in reader.batches():
            if self._failures:  # a read came back: Redis is here again
                log_event(log, "redis_reconnected", attempts=self._failures,
                          position=self.position)
                self._failures = 0
            self.stages.add("read", time.perf_counter() - waited)
            self.rate.backlog(len(entries) >= self.settings.ingest_batch_size, len(entries))
            if entries:
                self.unjudged.append(entries)
            # A trickle is judged a checkpoint at a time, a backlog a full read at a time: each
            # judging has a fixed cost of its own.
            if sum(map(len, self.unjudged)) >= self.settings.ingest_batch_size:
                self._judge_unjudged()
            if self.pending.due(sum(map(len, self.unjudged))) or (
                    not entries and (self.pending or self.unjudged)):
                self._judge_unjudged()
                self._commit()
            if not entries:
                self._quiet()
            self._housekeeping()
            if not entries and until_idle and self._drained():
                self._finish()
                return True
            if self.stopping:  # asked to stop: what is read is committed, then said
                self._judge_unjudged()
                if self.pending:
                    self._commit()
                self._publish_files(now=True)
                self.snapshots.publish(night_too=True)
                return True
            waited = time.perf_counter()
        return False

    def _judge_unjudged(self) -> None:
        if self.unjudged:
            entries, self.unjudged = Entries.joined(self.unjudged), []
            self._judge(entries)

    def _judge(self, entries: Entries) -> None:
        """Each entry's fate; the rejected dead-lettered now, the accepted kept for the commit."""
        started = time.monotonic()
        with self.stages.timed("decode"):
            decoded = decode_batch(entries, self.settings.future_ts_margin_ms)
            self._dead_letter(entries, decoded.rejected)
        self.faults.reached("after_dead_letters")
        orders = decoded.orders
        with self.stages.timed("dedupe"):
            fp_hi, fp_lo = fingerprints(orders["order_id"], self.key)
            new = self.seen.first_seen(fp_hi, fp_lo)
            accepted = with_fingerprints(orders, fp_hi, fp_lo).filter(pa.array(new))
        self.pending.add(accepted, len(entries), len(decoded.rejected),
                         orders.num_rows - accepted.num_rows, entries.last_id,
                         time.monotonic() - started)
        self.read_position = entries.last_id
        self.progress.advance(len(entries), orders=self.state.orders)

    def _sold_so_far(self, items: list[str]) -> pa.Table:
        """item_id, quantity of `items` in the committed orders."""
        return items_sold(self._files(), items)

    def _commit(self) -> None:
        started = time.monotonic()
        checkpoint, self.pending = self.pending, self.pending.next()
        with self.stages.timed("aggregate"):
            accepted = checkpoint.accepted(ACCEPTED)
            deltas, merchants = window_deltas(accepted), merchant_minutes(accepted)
            self.watch.read_stock()
            items = self.watch.declared_sales(accepted)
        with self.stages.timed("part"):
            part = write_part(self.data_dir, accepted, self.store.checkpoint + 1)
        self.faults.reached("after_part")
        assert checkpoint.last_id is not None
        compacted = self._compacted()
        with self.stages.timed("commit"):
            self.store.commit(self.stream, Commit(
                checkpoint.last_id, accepted.num_rows, checkpoint.rejected, checkpoint.duplicates,
                deltas, merchants, items, part, compacted.retired, compacted.added))
        self.faults.reached("after_commit")
        self.recent.append([self.store.checkpoint, id_key(checkpoint.last_id)[0],
                            checkpoint.rejected, checkpoint.duplicates])
        self._after_compaction(compacted, part)
        self.position = checkpoint.last_id
        with self.snapshots.lock:
            behind = self.state.add(deltas, checkpoint.rejected, checkpoint.duplicates,
                                    checkpoint.arrival_s)
            for second in behind:
                self.state.late_behind(second, self.store.second_orders(second))
        with self.stages.timed("detect"):
            self.watch.after_checkpoint(accepted, checkpoint.events, checkpoint.rejected,
                                        checkpoint.duplicates, deltas,
                                        (self.state.latest_second() or 0) * 1000)
        with self.stages.timed("publish"):
            self._merchants_behind = True
            if self._due("merchants", MERCHANTS_EVERY_S):
                self._refresh_merchants()
            self._publish_files()
            self._forget_behind_horizon()
            self.rate.record(checkpoint.events, checkpoint.busy_s + time.monotonic() - started)
            self.snapshots.publish()

    def _compacted(self, wait_s: float = 0.0) -> Compaction:
        """What the compactor finished since the last commit (it goes into this one)."""
        return self.compactor.take(wait_s) or Compaction([], [])

    def _after_compaction(self, compacted: Compaction, part: FileEntry | None) -> None:
        """The committed files as the store now names them; the compactor offered the next."""
        now = time.monotonic()
        retired = set(compacted.retired)
        self.files = [f for f in self.files if f.name not in retired] + compacted.added + (
            [part] if part is not None else [])
        if compacted.retired:
            self.faults.reached("after_compaction_commit")
            self.compactor.retire(compacted.retired, now)
            self.compacted_through = max([self.compacted_through, *(
                c for name in compacted.retired if (c := part_checkpoint(name)) is not None)])
            for name in compacted.retired:
                self.fresh_since.pop(name, None)
        if part is not None:
            self.fresh_since[part.name] = now
        self.compactor.offer(self.files, (self.state.latest_second() or 0) * 1000, now,
                             self.fresh_since)

    def _commit_compaction(self, wait_s: float = 0.0) -> None:
        """A finished compaction while no orders come: committed on its own."""
        compacted = self._compacted(wait_s)
        if compacted.retired and self.position is not None:
            empty = ACCEPTED.empty_table()
            self.store.commit(self.stream, Commit(
                self.position, 0, 0, 0, window_deltas(empty), merchant_minutes(empty),
                empty.select(["item_id", "quantity"]), None, compacted.retired, compacted.added))
            self._after_compaction(compacted, None)
            self._publish_files(now=True)
        else:
            self.compactor.offer(self.files, (self.state.latest_second() or 0) * 1000,
                                 time.monotonic(), self.fresh_since)

    def _refresh_merchants(self) -> None:
        self._merchants_behind = False
        top = self.store.top_merchants(10)
        with self.snapshots.lock:
            self.state.top_merchants = top

    def _publish_files(self, now: bool = False) -> None:
        """The manifest and the summary for readers: at most every PUBLISH_FILES_EVERY_S while
        orders flow (the screens read the snapshot), at once when asked (idle, compaction); a
        partition of several after every commit (the combiner follows them)."""
        due = now or not self.judges or self._due("files", PUBLISH_FILES_EVERY_S)
        self._files_behind = not due  # a commit the files do not tell of yet: idle, they will
        if due:
            publish_manifest(self.data_dir, Manifest(
                self.files, self.position, self.store.checkpoint, self.compacted_through,
                list(self.recent), self.state.rejected, self.state.duplicates))
            publish_summary(self.data_dir, {**live_summary(self.state, self.position),
                                            **capacity_of(self.rate.figures())})

    def _dead_letter(self, entries: Entries, rejected: list[tuple[int, str]]) -> None:
        # Before the commit: a crash in between sends them again, so the dead-letter stream is
        # at-least-once; `source_id` lets its reader drop the repeats.
        if not rejected:
            return
        pipe = self.client.pipeline(transaction=False)
        for index, reason in rejected:
            pipe.xadd(self.settings.dead_letter_stream, {
                "data": entries.payloads[index] or b"", "reason": reason,
                "source_id": entries.ids[index]})
            if reason.startswith("undecodable"):
                self._log_undecodable(entries.ids[index], reason)
        pipe.execute()

    def _log_undecodable(self, entry_id: bytes, reason: str) -> None:
        """A payload that raised something unexpected: said, at most so often."""
        now = time.monotonic()
        self._undecodable_logged = [t for t in self._undecodable_logged if now - t < 60]
        if len(self._undecodable_logged) < UNDECODABLE_LOGS_PER_MIN:
            self._undecodable_logged.append(now)
            log_line(log, logging.WARNING, "payload_undecodable", entry=entry_id.decode(),
                     reason=reason)

    def _quiet(self) -> None:
        """Nothing arrived: on a live night the detectors' clock moves on with the wall clock
        (a total outage sends nothing at all); a replayed old night's clock waits for its data."""
        latest = self.state.latest_second()
        now_s = now_ms() // 1000
        if latest is not None and 0 < now_s - latest <= LIVE_WITHIN_S:
            self.watch.quiet(now_s)
        self.watch.flush()
        self.watch.merge_acks()
        self._commit_compaction()
        if self._files_behind:  # the last commit came within a second of the one before
            self._publish_files(now=True)
        if self._merchants_behind and self._due("merchants", MERCHANTS_EVERY_S):
            self._refresh_merchants()
            self.snapshots.publish(night_too=True)

    def _housekeeping(self) -> None:
        if self.settings.trim_stream and self.position and self._due("trim", TRIM_EVERY_S):
            # Only entries below the committed position go: those are in the store already.
            self.client.xtrim(self.stream, minid=self.position, approximate=False)
        if self._due("gc", GC_EVERY_S):
            gc.collect()

    def _due(self, what: str, every_s: float) -> bool:
        now = time.monotonic()
        if now - self._at.get(what, 0.0) < every_s:
            return False
        self._at[what] = now
        return True

    def _finish(self) -> None:
        self._commit_compaction(wait_s=COMPACTION_WAIT_S)  # one running: its result, committed
        self._at.clear()
        self._refresh_merchants()
        self._housekeeping()
        self._publish_files(now=True)
        self.watch.flush()
        self.snapshots.settle()
        self.snapshots.publish(night_too=True)
        log_event(log, "worker_idle", entries=self.progress.count,
                  seconds=self.progress.elapsed_s, orders=self.state.orders,
                  stages_s=self.stages.said())

    def _heartbeat(self) -> dict[str, object]:
        last_id = self.client.xinfo_stream(self.stream)["last-generated-id"] \
            if self.client.exists(self.stream) else None
        last = last_id.decode() if isinstance(last_id, bytes) else last_id
        committed_ms = id_key(self.position)[0] if self.position else None
        lag = max(id_key(last)[0] - committed_ms, 0) if last and committed_ms else None
        return {"heartbeat_ms": now_ms(), "worker": self.name, "position": self.position,
                "stream_last_id": last, "lag_ms": lag, **self.rate.figures()}

    def _drained(self) -> bool:
        """Everything the stream holds is committed."""
        if self.pending or not self.client.exists(self.stream):
            return not self.pending
        last = self.client.xinfo_stream(self.stream)["last-generated-id"]
        return self.position is not None and id_key(last) <= id_key(self.position)


def stop_on_sigterm() -> None:
    """SIGTERM (a process manager stopping a process) ends it like Ctrl-C."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)


def _stop_between_batches(workers: list[Stoppable], asked: threading.Event) -> None:
    """SIGTERM and Ctrl-C end the workers between two batches: nothing is interrupted half-way
    (what was read and not committed is read again next time; the stream and the store stay
    exact either way)."""
    def stop(signum: int, frame: FrameType | None) -> None:
        if not asked.is_set():
            log_event(log, "worker_stopping", signal=signal.Signals(signum).name)
        asked.set()
        for worker in list(workers):
            worker.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run_worker(client: redis.Redis, settings: Settings, until_idle: bool, judges: bool = True,
               running: list[Stoppable] | None = None, asked: threading.Event | None = None) -> None:
    """One partition's worker until it is drained (`until_idle`) or asked to stop."""
    faults = FaultPlan(settings.fault_at)
    store = opened(settings.data_dir / "gmv.duckdb")
    running = [] if running is None else running
    asked = threading.Event() if asked is None else asked
    try:
        worker = Worker(client, settings, store, faults, judges)
        running.append(worker)
        if threading.current_thread() is threading.main_thread():
            _stop_between_batches(running, asked)
        worker.stopping = asked.is_set()
        worker.run(until_idle)
        log_event(log, "worker_stopped", stream=worker.stream, entries=worker.progress.count,
                  seconds=worker.progress.elapsed_s, stages_s=worker.stages.said())
    finally:
        store.close()


def run_partitions(clients: Callable[[int], redis.Redis], settings: Settings, owned: list[int],
                   until_idle: bool, combiner: Callable[[], Stoppable] | None = None) -> None:
    """The workers of the partitions `owned` (of settings.partitions), one thread each, in this
    process; each has its own stream, store and position, so a partition can move to another
    process between runs. `combiner`: makes the war room over all partitions, run beside them
    (once they are idle, it finishes too). The first to fail stops them all, and the process."""
    if settings.partitions == 1:
        run_worker(clients(0), settings, until_idle)
        return
    running: list[Stoppable] = []  # what SIGTERM and Ctrl-C stop: the workers, the combiner
    asked = threading.Event()
    _stop_between_batches(running, asked)
    failures: list[BaseException] = []
    combining: list[Stoppable] = []

    def stop_all() -> None:
        asked.set()
        for each in [*running, *combining]:
            each.stopping = True

    def guarded(name: str, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as err:
            log_line(log, logging.ERROR, "partition_failed", thread=name,
                     error=f"{type(err).__name__}: {str(err)[:200]}")
            if not isinstance(err, FileProblem):  # that one is said in one line, by gmv
                traceback.print_exc()
            failures.append(err)
            stop_all()

    def one(partition: int) -> None:
        run_worker(clients(partition), settings.for_partition(partition), until_idle,
                   judges=False, running=running, asked=asked)

    threads = [threading.Thread(target=guarded, args=(f"partition-{p}", lambda p=p: one(p)),
                                name=f"partition-{p}") for p in owned]
    log_event(log, "partitions_started", owned=",".join(map(str, owned)),
              partitions=settings.partitions)
    for thread in threads:
        thread.start()
    partition_threads = list(threads)
    if combiner is not None:
        def combine() -> None:
            made = combiner()
            combining.append(made)
            running.append(made)
            made.stopping = asked.is_set()
            for thread in partition_threads:  # until idle: once every partition is
                while until_idle and thread.is_alive() and not made.stopping:
                    thread.join(0.2)
            made.run(until_idle)
        threads.append(threading.Thread(target=guarded, args=("combiner", combine),
                                        name="combiner"))
        threads[-1].start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # the main thread stays free for the signal handler
    if failures:
        raise failures[0]


class Stoppable(Protocol):
    stopping: bool

    def run(self, until_idle: bool = False) -> None: ...


def drained(client: redis.Redis, settings: Settings) -> bool:
    """From outside the worker: its last committed position (the snapshot's) is the stream's
    last entry; with several partitions, every partition's, and the combiner has taken them all
    (the positions of the combined summary)."""
    if settings.partitions > 1:
        path = summary_path(settings.data_dir)
        taken = json.loads(path.read_text()).get("positions", {}) if path.exists() else {}
        streams = [settings.partition_stream(p) for p in range(settings.partitions)]
        return any(client.exists(s) for s in streams) and all(
            not client.exists(s) or _at_end(client, s, taken.get(str(p)))
            for p, s in enumerate(streams))
    raw = client.get(settings.snapshot_key)
    return raw is not None and _at_end(client, settings.orders_stream,
                                       json.loads(raw).get("position"))


def _at_end(client: redis.Redis, stream: str, position: str | None) -> bool:
    if not client.exists(stream):
        return False
    last = client.xinfo_stream(stream)["last-generated-id"]
    return position is not None and id_key(last) <= id_key(position)
