"""`gmv watchdog`: the pipeline watched from outside the worker, which cannot report its own
death. Once a second it reads the worker's heartbeat (in the live snapshot) and the stream's
newest entry, and raises `heartbeat_missing` and `stream_lag` through the same lifecycle, files,
feed and webhook as the worker's alerts (its own file and key: one writer each)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import redis

from common.logs import log_event, log_line
from common.redis_server import REDIS_DOWN
from common.settings import Settings
from common.stopping import stop_requested, wait_or_stop
from ingest.detect.alerts import Alert, Rule
from ingest.detect.keeper import AlertKeeper, pipeline_alerts_path
from ingest.read import id_key
from ingest.snapshot import now_ms

log = logging.getLogger("gmv.watchdog")
CHECK_EVERY_S = 1.0
HEARTBEAT_MISSING_MS = 5_000  # the worker beats every GMV_SNAPSHOT_INTERVAL_MS (250 ms)
LAG_WARNING_MS, LAG_CRITICAL_MS = 10_000, 60_000
HEARTBEAT_MISSING = Rule("heartbeat_missing", "critical", fire_after_ms=0, resolve_after_ms=3_000)
STREAM_LAG = Rule("stream_lag", "warning", fire_after_ms=5_000, resolve_after_ms=10_000)


class Watchdog(AlertKeeper):
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        super().__init__(client, settings, pipeline_alerts_path(settings.data_dir),
                         settings.pipeline_alerts_key)
        self.started_ms = now_ms()

    def check(self, now: int) -> list[Alert]:
        """One look at each partition's heartbeat and lag, `now` being epoch ms."""
        changes: list[Alert] = []
        several = self.settings.partitions > 1
        for partition in range(self.settings.partitions):
            mine = self.settings.for_partition(partition)
            changes += self._check(now, mine.snapshot_key, mine.orders_stream,
                                   f"partition={partition}" if several else None)
        self.publish(changes)
        self.merge_acks()
        return changes

    def _check(self, now: int, snapshot_key: str, stream: str,
               dimension: str | None) -> list[Alert]:
        raw = self.client.get(snapshot_key)
        beat: dict[str, Any] = json.loads(raw) if raw else {}
        newest = self._newest_entry_ms(stream)
        changes: list[Alert] = []
        who = f"the worker of {dimension}" if dimension else "the worker"
        if beat.get("heartbeat_ms") is not None or newest is not None:
            # No heartbeat at all while orders wait: no worker has started since we did.
            age = now - beat.get("heartbeat_ms", self.started_ms)
            changes += self.book.observe(
                HEARTBEAT_MISSING, dimension, age > HEARTBEAT_MISSING_MS, now,
                f"no heartbeat from {who} for {age / 1000:,.0f} s",
                expected=self.settings.snapshot_interval_ms / 1000, actual=round(age / 1000, 1))
        position = beat.get("position")
        if newest is not None:
            committed = id_key(position)[0] if position else None
            lag = newest - committed if committed is not None else None
            late = lag is None or lag > LAG_WARNING_MS
            changes += self.book.observe(
                STREAM_LAG, dimension, late, now,
                f"{who} is {lag / 1000:,.0f} s behind the stream" if lag is not None
                else f"{who} has committed nothing of the stream",
                expected=LAG_WARNING_MS / 1000, actual=round(lag / 1000, 1) if lag else None,
                severity="critical" if lag is None or lag > LAG_CRITICAL_MS else None)
        return changes

    def _newest_entry_ms(self, stream: str) -> int | None:
        """When the stream's newest entry was added; None without a stream or entries."""
        try:
            info = self.client.xinfo_stream(stream)
        except redis.ResponseError:  # no such stream yet
            return None
        if not info.get("length"):
            return None
        last = info["last-generated-id"]
        return id_key(last)[0]

    def run(self, stop: threading.Event | None = None) -> None:
        """Until `stop` is set; without one, until the process is asked to stop (SIGTERM,
        Ctrl-C: common.stopping), which ends its wait at once, whatever Redis is doing."""
        asked, wait = (stop.is_set, stop.wait) if stop else (stop_requested, wait_or_stop)
        log_event(log, "watchdog_started", snapshot=self.settings.snapshot_key,
                  stream=self.settings.orders_stream)
        failures = 0
        try:
            while not asked():
                try:
                    self.check(now_ms())
                    failures = 0
                except REDIS_DOWN as err:
                    failures += 1
                    log_line(log, logging.WARNING, "redis_unavailable", attempt=failures,
                             error=str(err).splitlines()[0][:120])
                wait(CHECK_EVERY_S if not failures else min(0.5 * 2 ** failures, 5.0))
        finally:
            self.close()
            log_event(log, "watchdog_stopped")


def run_watchdog(client: redis.Redis, settings: Settings) -> None:
    Watchdog(client, settings).run()
