"""An alert book kept: in a file (`gmv alerts`, the review, restarts) and a Redis key (the
operations view), told to the webhook, logged, and acknowledged from /ops. The worker and the
watchdog each keep their own."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import redis

from common.atomic import atomic_path
from common.logs import log_event
from common.settings import Settings
from ingest.detect.alerts import PENDING, RESOLVED, Alert, AlertBook
from ingest.detect.notify import Webhook
from ingest.integrity import GarbledFile

log = logging.getLogger("gmv.detect")
ACKS_EVERY_S = 0.5
REVISE_EVERY_S = 1.0


def alerts_path(data_dir: Path) -> Path:
    return data_dir / "alerts.json"


def pipeline_alerts_path(data_dir: Path) -> Path:
    return data_dir / "alerts-pipeline.json"


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["alerts"])
    except (ValueError, KeyError, TypeError) as err:
        raise GarbledFile(path, f"is not a readable alert book ({type(err).__name__}: "
                          f"{str(err)[:100]})", "put back the copy in Redis (the alerts key, "
                          "newest first: GET gmv:orders:alerts) or move the file aside (the "
                          "night's alerts so far are then forgotten), and start again") from None


def read_alerts(data_dir: Path) -> list[dict[str, Any]]:
    """The night's alerts (the worker's and the watchdog's) as `gmv alerts --json` prints them,
    oldest first."""
    alerts = _read(alerts_path(data_dir)) + _read(pipeline_alerts_path(data_dir))
    return sorted(alerts, key=lambda a: (a["start_ms"], a["kind"], a["dimension"] or ""))


def alert_from(saved: dict[str, Any]) -> Alert:
    return Alert(saved["kind"], saved["severity"], saved["dimension"], saved["start_ms"],
                 saved["message"], saved["expected"], saved["actual"], saved["state"],
                 saved["end_ms"], saved["acknowledged_ms"], saved.get("fired_ms"),
                 acknowledged_by=saved.get("acknowledged_by"), incident=saved.get("incident"))


def parse_ack(mark: bytes | str) -> tuple[int | None, str | None]:
    """An acknowledgement as /ops writes it ({"at_ms": .., "by": ..}; a bare epoch ms before
    sign-in existed): (when, who), (None, None) when it is neither."""
    try:
        value = json.loads(mark)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if isinstance(value, dict) and isinstance(value.get("at_ms"), int):
        by = value.get("by")
        return value["at_ms"], str(by)[:64] if by is not None else None
    return None, None


class AlertKeeper:
    """An alert book kept in a file and a Redis key, told to the webhook, acknowledged from
    Redis: what the worker and the watchdog each own for their alerts."""

    def __init__(self, client: redis.Redis, settings: Settings, path: Path, key: str) -> None:
        self.client, self.settings, self.path, self.key = client, settings, path, key
        path.parent.mkdir(parents=True, exist_ok=True)
        self.book = AlertBook()
        self.webhook = Webhook(settings.alert_webhook_url,
                               settings.alert_webhook_timeout_ms / 1000,
                               settings.alert_webhook_retries) \
            if settings.alert_webhook_url else None
        self._acks_at = self._stored_at = 0.0
        for saved in _read(path):  # the night so far, after a restart: open ones stay open
            alert = alert_from(saved)
            self.book.alerts.append(alert)
            if alert.state != RESOLVED:
                self.book.reopen(alert)

    def publish(self, changes: list[Alert], event: str | None = None) -> None:
        """Log, notify and store after changes of state (`event`: what happened, when it is
        not the new state itself); an open alert's newer figures are stored at most every
        REVISE_EVERY_S."""
        for alert in changes:
            printed = alert.as_json()
            what = event or alert.state
            by = {"by": alert.acknowledged_by} if what == "acknowledged" else {}
            log_event(log, f"alert_{what}", kind=alert.kind, dimension=alert.dimension,
                      severity=alert.severity, start=printed["start"], message=alert.message, **by)
            if self.webhook is not None:
                self.webhook.notify(what, printed)
        if changes or (self.book.revised and time.monotonic() - self._stored_at >= REVISE_EVERY_S):
            self._store()

    def flush(self) -> None:
        """Store the open alerts' newest figures now (the worker is idle or stopping)."""
        if self.book.revised:
            self._store()

    def _store(self) -> None:
        alerts = [a.as_json() for a in self.book.alerts if a.state != PENDING]
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"alerts": alerts}, ensure_ascii=False))
        self.client.set(self.key, json.dumps({"alerts": alerts[::-1]}, ensure_ascii=False))
        self.book.revised = False
        self._stored_at = time.monotonic()

    def merge_acks(self) -> None:
        """Acknowledgements from the operations view (a Redis hash: alert key -> {at_ms, by}),
        read at most every ACKS_EVERY_S and only for the alerts that may still be acknowledged
        (the open ones: a handful), whatever else the hash holds."""
        now = time.monotonic()
        if now - self._acks_at < ACKS_EVERY_S:
            return
        self._acks_at = now
        waiting = self.book.unacknowledged()
        if not waiting:
            return
        marks = self.client.hmget(self.settings.acks_key, [a.key for a in waiting])
        acked = []
        for alert, mark in zip(waiting, marks, strict=True):
            if mark is None:
                continue
            at_ms, by = parse_ack(mark)
            if at_ms is None:
                log_event(log, "ack_unreadable", key=alert.key, value=repr(mark[:80]))
                at_ms = int(time.time() * 1000)
            if self.book.acknowledge(alert.key, at_ms, by) is not None:
                acked.append(alert)
        self.publish(acked, "acknowledged")

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()
