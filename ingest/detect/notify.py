"""The optional webhook: one JSON POST per change of an alert's state, for the team's chat tool.

Sent from its own thread through a bounded queue, so a slow or failing endpoint never slows
the worker: each POST has a timeout and a few retries with backoff; when the queue is full the
oldest waiting notice is dropped (and logged) rather than blocking ingest.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any

from common.logs import log_event, log_line
from common.stopping import stop_requested, wait_or_stop

log = logging.getLogger("gmv.notify")
QUEUE_SIZE = 1_000
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
CLOSE_WHEN_STOPPING_S = 1.0  # of the STOP_WITHIN_S a stopping process has (common.stopping)


class Webhook:
    def __init__(self, url: str, timeout_s: float, retries: int) -> None:
        self.url, self.timeout_s, self.retries = url, timeout_s, retries
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def notify(self, event: str, alert: dict[str, Any]) -> None:
        """Queue one notice; never waits."""
        notice = {"event": event, "alert": alert}
        while True:
            try:
                self._queue.put_nowait(notice)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                    log_line(log, logging.WARNING, "webhook_dropped", reason="queue full")
                except queue.Empty:
                    pass

    def close(self, wait_s: float = 5.0) -> None:
        """Deliver what is queued (for at most `wait_s`, less when the process is asked to
        stop), then stop."""
        if stop_requested():
            wait_s = min(wait_s, CLOSE_WHEN_STOPPING_S)
        try:
            self._queue.put(None, timeout=wait_s)
        except queue.Full:
            return
        self._thread.join(timeout=wait_s)

    def _run(self) -> None:
        while (notice := self._queue.get()) is not None:
            self._deliver(notice)

    def _deliver(self, notice: dict[str, Any]) -> None:
        body = json.dumps(notice, ensure_ascii=False).encode()
        alert = notice["alert"]
        attempt = 0
        for attempt in range(1, self.retries + 2):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                self.sent += 1
                log_event(log, "webhook_sent", alert_event=notice["event"], kind=alert["kind"],
                          dimension=alert["dimension"], attempt=attempt)
                return
            except (urllib.error.URLError, OSError, ValueError) as err:
                reason = getattr(err, "reason", None) or err
                log_line(log, logging.WARNING, "webhook_failed", kind=alert["kind"],
                         attempt=attempt, error=str(reason)[:120])
                if attempt <= self.retries and wait_or_stop(
                        BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]):
                    break  # the process is stopping: no more retries
        self.failed += 1
        log_line(log, logging.ERROR, "webhook_gave_up", kind=alert["kind"],
                 dimension=alert["dimension"], attempts=attempt)
