"""The ingest loop: read from the committed position, judge each batch (decode, dedupe), and at
each checkpoint write the new orders' part, commit everything with the position in one
transaction, then tell everyone: the history manifest, the summary, the live snapshot."""

from __future__ import annotations

import gc
import itertools
import json
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol

import pyarrow as pa
import redis
from redis.exceptions import OutOfMemoryError, ReadOnlyError

from common.logs import Progress, log_event, log_line
from common.redis_server import REDIS_DOWN
from common.settings import Settings
from common.stopping import request_stop
from ingest.checkpoint import Checkpoint
from ingest.clock import clock_after
from ingest.committing import Committer
from ingest.continuity import REMOVED, StreamGap
from ingest.dedupe import SeenOrders
from ingest.detect.watch import PartitionWatch, Watch
from ingest.faults import FaultPlan
from ingest.gaps import GapFinder
from ingest.generations import (
    Generation,
    Generations,
    Opened,
    Untrusted,
    dedupe_dir,
    finish_rebuild,
    fresh_generation,
    generation_orders,
    key_digest,
    open_generations,
    position_digest,
    said_unusable,
)
from ingest.history import items_sold, orders_dir, summary_path, verify_files
from ingest.integrity import FileProblem
from ingest.judging import ACCEPTED, Judge, remembered, within_horizon
from ingest.live_state import LiveState
from ingest.publishing import Publisher
from ingest.read import StreamReader, id_key
from ingest.snapshot import now_ms
from ingest.stages import Stages
from ingest.store import Store, opened
from ingest.windows import merchant_minutes, window_deltas
from ingest.wire import COMPILED

log = logging.getLogger("gmv.ingest")
BLOCK_MS = 100  # well under the socket timeout; a fraction of the checkpoint interval
TRIM_EVERY_S = 5.0
GC_EVERY_S = 30.0
COMPACTION_WAIT_S = 120.0
LIVE_WITHIN_S = 600  # event time this close to the wall clock: the night is live, not a replay
CRASHES_WITHOUT_PROGRESS = 3
REFUSALS = ("OOM", "MISCONF", "LOADING", "BUSY")  # Redis' own words for "not now"


class Worker:
    """One partition's loop over three owners: the judge (entries read and judged, the dedupe
    table), the committer (the store, the committed files, the stream's gaps) and the publisher
    (files, merchants, the snapshot). Built from the store alone, so a crash loses nothing
    committed; dropped whole on any error (run_worker)."""

    def __init__(self, client: redis.Redis, settings: Settings, store: Store,
                 faults: FaultPlan, judges: bool = True) -> None:
        """`judges`: the detectors run here (one partition: the whole night); a partition of
        several leaves them to the combiner."""
        self.client, self.settings, self.store, self.faults = client, settings, store, faults
        self.stream = settings.orders_stream
        self.stages = Stages()
        self.progress = Progress(log, "entries")
        self.committer = Committer(store, settings, faults, self.stages)
        self.state = LiveState(horizon_s=settings.dedupe_horizon_h * 3600)
        counters = store.counters()
        # The clock where the last commit left it (a store from before it: the newest second).
        self.state.seed(store.live_windows(), counters.get("rejected", 0),
                        counters.get("duplicates", 0), clock_cap_s=store.clock_s())
        position = self.committer.position
        self._clock_arrival_s = id_key(position)[0] // 1000 if position else None
        self.state.top_merchants = store.top_merchants(10)
        self.tables = self._remembered()
        try:
            self._build(client, settings, store, faults, judges)
        except BaseException:
            self.tables.close(clean=False)  # not left mapped until a collection finds it
            raise

    def _build(self, client: redis.Redis, settings: Settings, store: Store, faults: FaultPlan,
               judges: bool) -> None:
        self.committer.listeners.append(
            lambda checkpoint, position: self.tables.committed(
                checkpoint, id_key(position)[0] // 1000, position_digest(position)))
        self.judge = Judge(client, settings, store.fingerprint_key(), self.tables,
                           self.committer.position, faults, self.stages)
        self.watch: Watch | PartitionWatch = Watch(
            client, settings, store.item_sold(), self._sold_so_far) \
            if judges else PartitionWatch()
        self.publisher = Publisher(client, settings, self.state, self.committer, store, judges)
        self.publisher.gap_open = self.watch.gap_open
        self.gaps = GapFinder(client, self.stream, self.committer)
        self.stopping = False  # asked to stop (SIGTERM): between two batches, cleanly
        self.publisher.files(now=True)

    def _clock_ms(self) -> int:
        return (self.state.latest_second() or 0) * 1000

    def _arrived_s(self) -> int | None:
        """The newest committed arrival (the position's time): the dedupe horizon's clock."""
        position = self.committer.position
        return id_key(position)[0] // 1000 if position else None

    def _remembered(self) -> Generations:
        """The dedupe table: its files mapped as the last commit left them, or (when they cannot
        be proven to match the store) made again from the committed orders within the horizon
        of arrivals. Said in one line either way."""
        started = time.monotonic()
        folder = dedupe_dir(self.settings.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        key = key_digest(self.store.fingerprint_key())
        checkpoint = self.store.checkpoint
        each = generation_orders(self.settings.dedupe_orders)
        try:
            opened = open_generations(folder, key, checkpoint,
                                      position_digest(self.committer.position))
            self._files_checked()
        except Untrusted as why:
            if checkpoint or any(folder.iterdir()):  # a fresh store has nothing to say
                said_unusable(str(why), folder)
            opened = Opened([self._rebuilt(folder, key, each)], 0, "history")
        tables = Generations(folder, opened.generations, checkpoint, each, self.faults.reached)
        log_event(log, "dedupe_rebuilt", source=opened.source, orders=tables.count,
                  generations=len(tables.live), undone=opened.undone, mib=tables.nbytes >> 20,
                  seconds=round(time.monotonic() - started, 3))
        return tables

    def _files_checked(self) -> None:
        """The committed files the table remembers, checked against their checksums as a
        rebuild would read them (a damaged or missing one is refused now, before anything is
        counted), their bytes only: ~1.5 s for a whole day's 4.7 GB in the page cache."""
        horizon_ms = self.settings.dedupe_horizon_h * 3_600_000
        files = within_horizon(self.committer.files, (self._arrived_s() or 0) * 1000 - horizon_ms,
                               self._clock_ms() - horizon_ms)
        folder = orders_dir(self.settings.data_dir)
        verify_files([str(folder / f.name) for f in files.arrived + files.older])

    def _rebuilt(self, folder: Path, key: int, each: int) -> Generation:
        horizon_ms = self.settings.dedupe_horizon_h * 3_600_000
        arrived_s = self._arrived_s() or 0
        made: list[Generation] = []

        def make(orders: int) -> SeenOrders:
            made.append(fresh_generation(folder, max(each, orders), key, self.store.checkpoint,
                                         arrived_s, position_digest(self.committer.position)))
            return made[0].seen
        remembered(self.committer.files, orders_dir(self.settings.data_dir),
                   arrived_s * 1000 - horizon_ms, self._clock_ms() - horizon_ms, make)
        return finish_rebuild(made[0])

    def _forget_behind_horizon(self) -> None:
        """Right after a commit: a new generation of the dedupe table every half horizon of
        arrivals, and the generations wholly behind the horizon deleted."""
        arrived = self._arrived_s()
        if arrived is not None:
            self.tables.age(arrived, self.settings.dedupe_horizon_h * 3600,
                            self.store.checkpoint)

    def _sold_so_far(self, items: list[str]) -> pa.Table:
        """item_id, quantity of `items` in the committed orders."""
        return items_sold(self.committer.paths(), items)

    def run(self, until_idle: bool = False) -> None:
        """Until idle (`until_idle`) or asked to stop. Any error comes out as it is: the caller
        drops this worker whole and builds the next from the store (crash-only, see run_worker)."""
        log_event(log, "worker_started", stream=self.stream, store=self.store.path,
                  position=self.committer.position, orders=self.state.orders,
                  reader="compiled" if COMPILED else "redis-py+numpy",
                  arrow_pool=pa.default_memory_pool().backend_name)
        gc.disable()  # the reader makes millions of short-lived objects; collected on a clock
        gc.freeze()
        self.publisher.snapshots.start()
        try:
            while not self._serve(until_idle):
                pass
        finally:
            gc.enable()

    def close(self, clean: bool = False) -> None:
        """Its threads stopped and joined: nothing of this worker outlives it. `clean`: it
        stopped as asked (its dedupe files written to disk for good); else as a kill would."""
        self.tables.close(clean)
        self.committer.close()
        self.publisher.snapshots.stop()
        self.watch.close()

    def _serve(self, until_idle: bool) -> bool:
        """Read, judge and commit until idle (when asked to stop there: True); False: read
        again from the judge's position (the stream restarted)."""
        judge = self.judge
        reader = StreamReader(self.client, self.stream, judge.read_position,
                              self.settings.ingest_batch_size, BLOCK_MS)
        waited = time.perf_counter()
        for entries in reader.batches():
            self.stages.add("read", time.perf_counter() - waited)
            gap = self.gaps.before(reader, self.judge.read())
            if gap is not None and gap.cause != REMOVED:
                self._stream_changed(gap)
                return False  # read again, from the position the stream has now
            if gap is not None:
                self._gap_found(gap)
            full = len(entries) >= self.settings.ingest_batch_size
            self.publisher.rate.backlog(full, len(entries))
            self.committer.compactor.worker_read(full)
            if entries:
                judge.queue(entries)
                self.faults.reached("redis_away_after_read")
                self.progress.advance(len(entries), orders=self.state.orders)
            if judge.due() or (not entries and (judge.holds() or self.committer.pending_gaps)):
                self._commit()
            if not entries:
                self._quiet()
            self._housekeeping()
            if not entries and until_idle and self._drained():
                self._finish()
                return True
            if self.stopping:  # asked to stop: what is read is committed, then said
                if judge.holds():
                    self._commit()
                self.publisher.files(now=True)
                self.publisher.snapshots.publish(night_too=True)
                return True
            waited = time.perf_counter()
        return False

    def _gap_found(self, gap: StreamGap) -> None:
        """Said at once (log, alert); committed with the next checkpoint."""
        self.committer.gap_found(gap)
        log_line(log, logging.ERROR, "stream_gap", stream=gap.stream, after=gap.after_id,
                 before=gap.before_id, lost=gap.lost, reset=gap.reset)
        self.watch.stream_gap(gap, self._clock_ms() or now_ms() // 1000 * 1000)

    def _stream_changed(self, gap: StreamGap) -> None:
        """Another stream under the name, or the stream gone back below the position: what was
        read before is committed, then the gap, with the position the stream has now (its
        start, or where it was)."""
        if self.judge.holds() or self.committer.pending_gaps:
            self._commit()
        self._gap_found(gap)
        position = "0-0" if gap.reset else self.committer.position or "0-0"
        self.committer.commit_empty(position, self._clock_ms())
        self.publisher.shown_position = position  # nothing added: the state holds it already
        if gap.reset:
            self.gaps.mark_epoch(first_look=False)
        self.judge.read_position = position
        self.publisher.files(now=True)

    def _commit(self) -> None:
        started = time.monotonic()
        checkpoint = self.judge.take()
        with self.stages.timed("aggregate"):
            accepted = checkpoint.accepted(ACCEPTED)
            deltas, merchants = window_deltas(accepted), merchant_minutes(accepted)
            self.watch.read_stock()
            self.faults.reached("redis_away_in_commit")
            items = self.watch.declared_sales(accepted)
        # No entries read: only a gap found (the stream trimmed while nothing came).
        position = checkpoint.last_id or self.judge.read_position or "0-0"
        clock_s = self._clock_after(checkpoint, accepted)
        self.committer.commit(checkpoint, accepted, deltas, merchants, items, position,
                              self._clock_ms(), clock_s)
        with self.publisher.snapshots.lock:
            behind = self.state.add(deltas, checkpoint.rejected, checkpoint.duplicates,
                                    clock_s=clock_s)
            self.publisher.shown_position = position
            for second in behind:
                self.state.late_behind(second, self.store.second_orders(second))
        with self.stages.timed("detect"):
            self.watch.after_checkpoint(accepted, checkpoint.events, checkpoint.rejected,
                                        checkpoint.duplicates, deltas, self._clock_ms(),
                                        id_key(position)[0] if checkpoint.last_id else None,
                                        id_key(checkpoint.first_id)[0]
                                        if checkpoint.first_id else None)
        with self.stages.timed("publish"):
            self.publisher.after_commit()
            self._forget_behind_horizon()
            self.publisher.counted(checkpoint.events,
                                   checkpoint.busy_s + time.monotonic() - started)
            self.publisher.snapshots.publish()

    def _clock_after(self, checkpoint: Checkpoint, accepted: pa.Table) -> int | None:
        """Where the night's clock stands after this checkpoint: moved by the bulk of its
        orders (one stamped far from the rest cannot), never past the newest arrival, never
        back (None: no orders)."""
        first_s, last_s = checkpoint.first_arrival_s, checkpoint.arrival_s
        if first_s is None or last_s is None:
            return None
        previous = self.state.latest_second()
        moved = clock_after(accepted["ts_ms"].to_numpy(), first_s, last_s, previous,
                            self._clock_arrival_s)
        if moved is None:  # no orders: the arrivals the clock is weighed against stay put
            return None
        self._clock_arrival_s = last_s
        moved = min(moved, last_s)
        return moved if previous is None else max(moved, previous)

    def _quiet(self) -> None:
        """Nothing arrived: on a live night the detectors' clock moves on with the wall clock
        (a total outage sends nothing at all); a replayed old night's clock waits for its data."""
        latest = self.state.latest_second()
        now_s = now_ms() // 1000
        if latest is not None and 0 < now_s - latest <= LIVE_WITHIN_S:
            self.watch.quiet(now_s)
        self.watch.flush()
        self.watch.merge_acks()
        if self.committer.commit_compaction(self._clock_ms()):
            self.publisher.files(now=True)
        self.publisher.when_quiet()

    def _housekeeping(self) -> None:
        position = self.committer.position
        if self.settings.trim_stream and position and self.publisher.due("trim", TRIM_EVERY_S):
            # Only entries below the committed position go: those are in the store already.
            self.gaps.trimmed(self.client.xtrim(self.stream, minid=position, approximate=False))
        if self.publisher.due("gc", GC_EVERY_S):
            gc.collect()

    def _finish(self) -> None:
        # One compaction running: its result, committed.
        self.committer.commit_compaction(self._clock_ms(), wait_s=COMPACTION_WAIT_S)
        self.publisher.all_due()
        self.publisher.refresh_merchants()
        self._housekeeping()
        self.publisher.files(now=True)
        self.watch.flush()
        self.publisher.snapshots.settle()
        self.publisher.snapshots.publish(night_too=True)
        log_event(log, "worker_idle", entries=self.progress.count,
                  seconds=self.progress.elapsed_s, orders=self.state.orders,
                  stages_s=self.stages.said())

    def _drained(self) -> bool:
        """Everything the stream holds is committed: called when a read after the position
        came back empty (so nothing lies beyond it, whatever the stream's last generated id
        says: its newest entries may have been removed) and nothing waits to be committed."""
        return not self.judge.holds() and not self.committer.pending_gaps


def _stop_between_batches(workers: list[Stoppable], asked: threading.Event) -> None:
    """SIGTERM and Ctrl-C end the workers between two batches: nothing is interrupted half-way
    (what was read and not committed is read again next time; the stream and the store stay
    exact either way)."""
    def stop(signum: int, frame: FrameType | None) -> None:
        if not asked.is_set():
            log_event(log, "worker_stopping", signal=signal.Signals(signum).name)
        asked.set()
        request_stop()  # every stop-aware wait ends now; the command exits within 5 s
        for worker in list(workers):
            worker.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run_worker(client: redis.Redis, settings: Settings, until_idle: bool, judges: bool = True,
               running: list[Stoppable] | None = None, asked: threading.Event | None = None) -> None:
    """One partition's worker until it is drained (`until_idle`) or asked to stop, crash-only:
    whatever goes wrong inside (Redis away in any call, DuckDB, the disk) ends that worker as a
    kill -9 would, and the next is built from the last commit alone (the store, the committed
    files), after Redis answers again. An error other than Redis away that comes back with no
    commit in between is not passing: the third ends the command."""
    # Arrow's default pool (mimalloc) keeps what a checkpoint freed for reuse: ~200 MiB more
    # RSS over a 5M-order day than the system allocator, for no drain (bench/full_day.py).
    pa.set_memory_pool(pa.system_memory_pool())
    faults = FaultPlan(settings.fault_at)
    running = [] if running is None else running
    asked = threading.Event() if asked is None else asked
    if threading.current_thread() is threading.main_thread():
        _stop_between_batches(running, asked)
    crashes = failures = 0
    while True:
        store = opened(settings.data_dir / "gmv.duckdb")
        committed_at_start = store.checkpoint
        worker: Worker | None = None
        away = stopped_cleanly = False
        try:
            worker = Worker(client, settings, store, faults, judges)
            running.append(worker)
            worker.stopping = asked.is_set()
            worker.run(until_idle)
            stopped_cleanly = True
            log_event(log, "worker_stopped", stream=worker.stream, entries=worker.progress.count,
                      seconds=worker.progress.elapsed_s, stages_s=worker.stages.said())
            return
        except (redis.AuthenticationError, FileProblem):
            raise  # not away: refused, or a file a person must see to (one line from the CLI)
        except REDIS_DOWN as err:
            away = True
            log_line(log, logging.WARNING, "redis_unavailable", attempt=1,
                     error=_said(err), position=_committed(worker))
        except Exception as err:
            if _refusing(err):  # Redis here but refusing writes (out of memory, a failing save)
                log_line(log, logging.WARNING, "redis_refusing", error=_said(err),
                         position=_committed(worker))
            else:
                crashes = 1 if store.checkpoint > committed_at_start else crashes + 1
                log_line(log, logging.ERROR, "worker_crashed", crashes=crashes,
                         error=_said(err), at=_where(err), position=_committed(worker))
                if crashes >= CRASHES_WITHOUT_PROGRESS:
                    raise
        finally:
            if worker is not None:
                running.remove(worker)
                worker.close(stopped_cleanly)
            store.close()
        failures = 1 if store.checkpoint > committed_at_start else failures + 1
        # Again and again with nothing committed between (Redis refusing writes): not a spin.
        if asked.is_set() or asked.wait(min(0.05 * 2 ** failures, 5.0)):
            return
        _wait_for_redis(client, asked, away)


def _committed(worker: Worker | None) -> str | None:
    """Where the next worker reads on from (asked of no store: it may be what failed)."""
    return worker.committer.position if worker is not None else None


def _refusing(err: BaseException) -> bool:
    """Redis answers but will not take writes for now: out of memory, a failing background save,
    still loading, a script running. Waited out like Redis away, not counted as a crash."""
    said = str(err)
    return isinstance(err, (OutOfMemoryError, ReadOnlyError)) or isinstance(
        err, redis.ResponseError) and (said.startswith(REFUSALS) or any(
            f"error: {r}" in said for r in REFUSALS))


def _said(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:160]}"


def _where(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def _wait_for_redis(client: redis.Redis, asked: threading.Event, away: bool) -> None:
    """Until Redis answers (said when it does, if it was `away`) or a stop is asked: the next
    worker is built only then, so an outage costs one rebuild, not one per retry."""
    for attempt in itertools.count(1):
        try:
            client.ping()
        except redis.AuthenticationError:
            raise
        except REDIS_DOWN as err:
            wait_s = min(0.1 * 2 ** attempt, 5.0)
            log_line(log, logging.WARNING, "redis_unavailable", attempt=attempt + 1,
                     retry_in_s=wait_s, error=_said(err))
            if asked.wait(wait_s):
                return
            continue
        if away or attempt > 1:
            log_event(log, "redis_reconnected", attempts=attempt)
        return


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
