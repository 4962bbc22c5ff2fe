"""The ingest loop: read a batch from the consumer group, decode it, commit it, then acknowledge."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

import redis

from gmv.logs import Progress, log_event
from gmv.settings import Settings
from ingest.decode import decode_batch
from ingest.store import Store

log = logging.getLogger("gmv.ingest")
GROUP = "gmv-ingest"
BATCH_SIZE = 10_000
BLOCK_MS = 500
Entries = list[tuple[bytes, bytes]]  # (entry id, payload)


def default_consumer() -> str:
    """Stable across restarts of the same worker, so it finds its own pending entries first."""
    return f"{socket.gethostname()}-{os.environ.get('GMV_WORKER_NAME', 'worker')}"


def _id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Worker:
    def __init__(self, client: redis.Redis, settings: Settings, store: Store,
                 consumer: str | None = None) -> None:
        self.client, self.settings, self.store = client, settings, store
        self.stream = settings.orders_stream
        self.consumer = consumer or default_consumer()
        self.progress = Progress(log, "entries")
        # The worker is the store's only writer, so its last commit is the committed position.
        self.committed = store.position(self.stream, GROUP)
        # The raw reply: redis-py's callback would build a dict per entry.
        self.client.response_callbacks.pop("XREADGROUP", None)

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            log_event(log, "group_created", stream=self.stream, group=GROUP)
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    def _read(self, start: str, block_ms: int | None) -> Entries:
        args: list[object] = ["XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", BATCH_SIZE]
        if block_ms is not None:
            args += ["BLOCK", block_ms]
        reply = self.client.execute_command(*args, "STREAMS", self.stream, start)
        if not reply:
            return []
        return [(entry_id, fields[1] if fields and len(fields) > 1 else b"")
                for entry_id, fields in reply[0][1]]

    def process(self, entries: Entries) -> None:
        """Commit the batch's effect once, dead-letter the rejected, then acknowledge it all."""
        if not entries:
            return
        committed = self.committed
        fresh = [e for e in entries if committed is None or _id_key(e[0]) > _id_key(committed)]
        if fresh:
            payloads = [payload for _, payload in fresh]
            decoded = decode_batch(payloads)
            self._dead_letter(fresh, decoded.rejected)
            last_id = fresh[-1][0].decode()
            result = self.store.apply(decoded.orders, len(decoded.rejected), self.stream, GROUP,
                                      last_id)
            self.committed = last_id
            self.progress.advance(len(fresh), accepted=result.accepted,
                                  duplicates=result.duplicates, rejected=result.rejected)
        self.client.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])

    def _dead_letter(self, entries: Sequence[tuple[bytes, bytes]],
                     rejected: list[tuple[int, str]]) -> None:
        # Before COMMIT: a crash in between re-sends them, so the dead-letter stream is
        # at-least-once; `source_id` lets its reader drop the repeats.
        if not rejected:
            return
        pipe = self.client.pipeline(transaction=False)
        for index, reason in rejected:
            entry_id, payload = entries[index]
            pipe.xadd(self.settings.dead_letter_stream,
                      {"data": payload, "reason": reason, "source_id": entry_id})
        pipe.execute()

    def run(self, until_idle: bool = False) -> None:
        self.ensure_group()
        log_event(log, "worker_started", stream=self.stream, group=GROUP, consumer=self.consumer,
                  store=self.store.path, position=self.committed)
        while entries := self._read("0", None):  # this consumer's own unacknowledged entries
            log_event(log, "pending_replayed", entries=len(entries))
            self.process(entries)
        self._claim_abandoned()
        while True:
            entries = self._read(">", BLOCK_MS)
            if entries:
                self.process(entries)
            elif until_idle and self._drained():
                log_event(log, "worker_idle", entries=self.progress.count,
                          seconds=self.progress.elapsed_s)
                return

    def _claim_abandoned(self, min_idle_ms: int = 30_000) -> None:
        """Take over what consumers that died left unacknowledged, and process it."""
        start = "0-0"
        while True:
            start, claimed, *_ = self.client.xautoclaim(self.stream, GROUP, self.consumer,
                                                        min_idle_ms, start, count=BATCH_SIZE)
            entries = [(i, f.get(b"data", b"")) for i, f in claimed if f is not None]
            if entries:
                log_event(log, "pending_claimed", entries=len(entries))
                self.process(sorted(entries, key=lambda e: _id_key(e[0])))
            if start in (b"0-0", "0-0"):
                return

    def _drained(self) -> bool:
        """Nothing pending and the group has been handed the stream's last entry (Redis 6.2 has
        no `lag` in XINFO GROUPS)."""
        last = self.client.xinfo_stream(self.stream)["last-generated-id"]
        group = next((g for g in self.client.xinfo_groups(self.stream)
                      if g["name"] in (GROUP, GROUP.encode())), None)
        return group is not None and group["pending"] == 0 and \
            _id_key(group["last-delivered-id"]) == _id_key(last)


def run_worker(client: redis.Redis, settings: Settings, until_idle: bool) -> None:
    store = Store(settings.data_dir / "gmv.duckdb")
    try:
        Worker(client, settings, store).run(until_idle)
    finally:
        store.close()
