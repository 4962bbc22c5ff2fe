"""The ingest loop: read a batch from the consumer group, decode it, commit it, acknowledge it,
then tell everyone: history files and the live snapshot."""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Iterator
from types import FrameType

import redis

from common.logs import Progress, log_event, log_line
from common.prefetch import prefetched
from common.settings import Settings
from ingest.decode import decode_batch
from ingest.detect.watch import Watch
from ingest.faults import FaultPlan
from ingest.history import HistoryWriter
from ingest.live_state import LiveState
from ingest.rate import RateMeter
from ingest.read import Entries, id_key
from ingest.snapshot import SnapshotPublisher, merchant_totals, now_ms
from ingest.store import Store

log = logging.getLogger("gmv.ingest")
GROUP = "gmv-ingest"
BLOCK_MS = 100  # well under the socket timeout; a fraction of the snapshot interval
TRIM_EVERY_S = 5.0
LIVE_WITHIN_S = 600  # event time this close to the wall clock: the night is live, not a replay
_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class Worker:
    def __init__(self, client: redis.Redis, settings: Settings, store: Store,
                 history: HistoryWriter, faults: FaultPlan) -> None:
        self.client, self.settings, self.store, self.history = client, settings, store, history
        self.faults = faults
        self.stream = settings.orders_stream
        self.consumer = settings.consumer_name or f"{socket.gethostname()}-worker"
        self.progress = Progress(log, "entries")
        # The worker is the store's only writer, so its last commit is the committed position.
        self.committed = store.position(self.stream, GROUP)
        self.state = LiveState()
        counters = store.counters()
        self.state.add(store.live_windows(), counters.get("rejected", 0),
                       counters.get("duplicates", 0))
        self.state.add_merchants(store.merchant_totals())
        self.watch = Watch(client, settings, store)
        self.rate = RateMeter()
        self._trimmed_at = 0.0
        self.snapshots = SnapshotPublisher(client, (settings.snapshot_key, settings.night_key),
                                           self.state,
                                           self._heartbeat, settings.snapshot_interval_ms / 1000)
        self._failures = 0
        # The raw reply: redis-py's callback would build a dict per entry.
        self.client.response_callbacks.pop("XREADGROUP", None)

    def run(self, until_idle: bool = False) -> None:
        log_event(log, "worker_started", stream=self.stream, group=GROUP, consumer=self.consumer,
                  store=self.store.path, position=self.committed, orders=self.state.orders)
        self.snapshots.start()
        try:
            self._run(until_idle)
        finally:
            self.snapshots.stop()
            self.watch.close()

    def _run(self, until_idle: bool) -> None:
        while True:
            try:
                if self._serve(until_idle):
                    return
            except _REDIS_DOWN as err:
                self._failures += 1
                wait_s = min(0.1 * 2 ** self._failures, 5.0)
                log_line(log, logging.WARNING, "redis_unavailable", attempt=self._failures,
                         retry_in_s=wait_s, error=str(err).splitlines()[0][:120])
                time.sleep(wait_s)

    def _serve(self, until_idle: bool) -> bool:
        """Pending entries first, then new ones; True once idle and asked to stop there."""
        self._ensure_group()
        if self._failures:
            log_event(log, "redis_reconnected", attempts=self._failures, position=self.committed)
            self._failures = 0
        while entries := self._read("0", None):  # this consumer's own unacknowledged entries
            log_event(log, "pending_replayed", entries=len(entries))
            self.process(entries)
        self._claim_abandoned()
        # Reading the next batch (mostly Redis's time) overlaps with committing this one.
        for entries in prefetched(self._new_entries(), depth=1):
            if entries:
                self.process(entries)
            else:
                self._quiet()
            self._housekeeping()
            if not entries and until_idle and self._drained():
                self._trimmed_at = 0.0
                self._housekeeping()
                self.history.flush(self.committed)
                self.snapshots.publish(night_too=True)
                log_event(log, "worker_idle", entries=self.progress.count,
                          seconds=self.progress.elapsed_s, orders=self.state.orders)
                return True
        return False

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            log_event(log, "group_created", stream=self.stream, group=GROUP)
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    def _new_entries(self) -> Iterator[Entries]:
        """Batches of entries never delivered to the group; an empty one when none came."""
        while True:
            yield self._read(">", BLOCK_MS)

    def _read(self, start: str, block_ms: int | None) -> Entries:
        args: list[object] = ["XREADGROUP", "GROUP", GROUP, self.consumer,
                              "COUNT", self.settings.ingest_batch_size]
        if block_ms is not None:
            args += ["BLOCK", block_ms]
        reply = self.client.execute_command(*args, "STREAMS", self.stream, start)
        return Entries.from_reply(reply[0][1] if reply else [])

    def process(self, entries: Entries) -> None:
        """Commit the batch's effect once, dead-letter the rejected, then acknowledge it all."""
        if not entries:
            return
        # After a crash between COMMIT and XACK, the first entries were already counted.
        fresh = entries.after(self.committed)
        started = time.monotonic()
        if fresh:
            decoded = decode_batch(fresh.payloads)
            self._dead_letter(fresh, decoded.rejected)
            self.faults.reached("after_dead_letters")
            last_id = fresh.ids[-1].decode()
            result = self.store.apply(decoded.orders, len(decoded.rejected), self.stream, GROUP,
                                      last_id)
            self.faults.reached("after_commit")
            self.committed = last_id
            self.history.add(result.batch, result.inserted, last_id)
            with self.snapshots.lock:
                self.state.add(result.window_deltas, result.rejected, result.duplicates)
                self.state.add_merchants(merchant_totals(result.inserted))
            self.watch.after_batch(result, len(fresh), decoded.orders["order_id"],
                                   (self.state.latest_second() or 0) * 1000)
            self.progress.advance(len(fresh), orders=self.state.orders, gmv=self.state.gmv_cents)
        self._ack(entries.ids)
        self.rate.record(len(fresh), time.monotonic() - started)
        self.faults.reached("before_publish")
        self.snapshots.publish()

    def _ack(self, ids: list[bytes]) -> None:
        """One XACK for the batch, packed in one join (redis-py packs argument by argument)."""
        head = [b"*%d\r\n$4\r\nXACK\r\n" % (len(ids) + 3)]
        args = [self.stream.encode(), GROUP.encode(), *ids]
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command(
                [b"".join(head + [b"$%d\r\n%s\r\n" % (len(a), a) for a in args])],
                check_health=False)
            connection.read_response()
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)

    def _dead_letter(self, entries: Entries, rejected: list[tuple[int, str]]) -> None:
        # Before COMMIT: a crash in between re-sends them, so the dead-letter stream is
        # at-least-once; `source_id` lets its reader drop the repeats.
        if not rejected:
            return
        pipe = self.client.pipeline(transaction=False)
        for index, reason in rejected:
            pipe.xadd(self.settings.dead_letter_stream, {
                "data": entries.payloads[index], "reason": reason,
                "source_id": entries.ids[index]})
        pipe.execute()

    def _quiet(self) -> None:
        """Nothing arrived: on a live night the detectors' clock moves on with the wall clock
        (a total outage sends nothing at all); a replayed old night's clock waits for its data."""
        latest = self.state.latest_second()
        now_s = now_ms() // 1000
        if latest is not None and 0 < now_s - latest <= LIVE_WITHIN_S:
            self.watch.quiet(now_s)
        self.watch.flush()
        self.watch.merge_acks()

    def _housekeeping(self) -> None:
        self.history.flush_if_due(self.committed)
        now = time.monotonic()
        if self.settings.trim_stream and self.committed and now - self._trimmed_at >= TRIM_EVERY_S:
            # Only entries below the committed position go: those are in the store already.
            self.client.xtrim(self.stream, minid=self.committed, approximate=False)
            self._trimmed_at = now

    def _heartbeat(self) -> dict[str, object]:
        last_id = self.client.xinfo_stream(self.stream)["last-generated-id"]
        committed_ms = id_key(self.committed)[0] if self.committed else None
        return {
            "heartbeat_ms": now_ms(), "worker": self.consumer, "position": self.committed,
            "stream_last_id": last_id.decode() if isinstance(last_id, bytes) else last_id,
            "lag_ms": max(id_key(last_id)[0] - committed_ms, 0) if committed_ms else None,
            **self.rate.figures(),
        }

    def _claim_abandoned(self) -> None:
        """Take over and settle what other consumer names left pending (this worker under a
        previous name, or one that died), before reading anything new: once the position has
        moved past them, skipping by position would lose them. One group feeds one store, so
        no live consumer can be robbed (docs/architecture.md)."""
        start = "0-0"
        while True:
            start, claimed, *_ = self.client.xautoclaim(self.stream, GROUP, self.consumer, 0,
                                                        start,
                                                        count=self.settings.ingest_batch_size)
            if claimed:
                log_event(log, "pending_claimed", entries=len(claimed))
                entries = [[i, [b"data", f.get(b"data", b"")] if f else None] for i, f in claimed]
                self.process(Entries.from_reply(sorted(entries, key=lambda e: id_key(e[0]))))
            if start in (b"0-0", "0-0"):
                return

    def _drained(self) -> bool:
        return drained(self.client, self.stream)


def drained(client: redis.Redis, stream: str) -> bool:
    """Nothing pending and the group has been handed the stream's last entry (Redis 6.2 has no
    `lag` in XINFO GROUPS): with the commit before XACK, everything is counted."""
    last = client.xinfo_stream(stream)["last-generated-id"]
    group = next((g for g in client.xinfo_groups(stream)
                  if g["name"] in (GROUP, GROUP.encode())), None)
    return group is not None and group["pending"] == 0 and \
        id_key(group["last-delivered-id"]) == id_key(last)


def stop_on_sigterm() -> None:
    """SIGTERM (a process manager stopping the worker) ends it like Ctrl-C: history flushed,
    store closed. The store and the stream stay exact even without this."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)


def run_worker(client: redis.Redis, settings: Settings, until_idle: bool) -> None:
    faults = FaultPlan(settings.fault_at)
    store = Store(settings.data_dir / "gmv.duckdb")
    try:
        history = HistoryWriter(settings.data_dir, store, faults)
        try:
            Worker(client, settings, store, history, faults).run(until_idle)
        finally:
            history.flush(store.position(settings.orders_stream, GROUP))
    finally:
        store.close()
        log_event(log, "worker_stopped")
