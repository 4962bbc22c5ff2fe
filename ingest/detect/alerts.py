"""The alert lifecycle: pending -> firing -> resolved, with hysteresis so a flapping signal does
not spam, severity, acknowledgement, and the alert as the contract prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.contract import beijing_iso
from ingest.detect.incidents import incident_for

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
SEVERITIES = ("info", "warning", "major", "critical")
# Kinds whose harm outlives their signal (units sold that were not in stock: buyers to call):
# after they resolve, still to be acknowledged until someone has.
SEEN_AFTER_RESOLVED = frozenset({"oversell"})


def awaits_acknowledgement(kind: object, state: object, acknowledged_ms: object) -> bool:
    """Someone must still say they have seen it: while it fires, or resolved of a kind whose
    harm outlives it, and nobody has yet."""
    return not acknowledged_ms and (
        state == FIRING or (state == RESOLVED and kind in SEEN_AFTER_RESOLVED))


@dataclass(frozen=True)
class Rule:
    """How long a signal must stay abnormal before it fires, and normal before it resolves."""

    kind: str
    severity: str
    fire_after_ms: int
    resolve_after_ms: int


@dataclass
class Alert:
    kind: str
    severity: str
    dimension: str | None
    start_ms: int  # when the signal turned abnormal (event time of the detector's clock)
    message: str
    expected: float | None = None
    actual: float | None = None
    state: str = PENDING
    end_ms: int | None = None
    acknowledged_ms: int | None = None
    fired_ms: int | None = None  # the detector's clock when it fired: what the delay is measured by
    normal_since_ms: int | None = field(default=None, repr=False)
    acknowledged_by: str | None = None
    # The alerts one cause set off share an incident id (ingest/detect/incidents.py): set when
    # the alert fires.
    incident: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.dimension or ''}|{self.start_ms}"

    def as_json(self) -> dict[str, Any]:
        """The contract's keys (kind, severity, start, end, dimension, message) and the rest."""
        return {"kind": self.kind, "severity": self.severity, "start": beijing_iso(self.start_ms),
                "end": beijing_iso(self.end_ms) if self.end_ms is not None else None,
                "dimension": self.dimension, "message": self.message, "state": self.state,
                "expected": self.expected, "actual": self.actual, "start_ms": self.start_ms,
                "end_ms": self.end_ms, "acknowledged_ms": self.acknowledged_ms,
                "acknowledged_by": self.acknowledged_by, "fired_ms": self.fired_ms, "key": self.key,
                "incident": self.incident or (self.key if self.state != PENDING else None)}


class AlertBook:
    """Every alert of the night; `observe` feeds it one reading of one signal and returns the
    alerts whose state changed (what a webhook is told).

    A reading is abnormal (True), normal (False) or in between (None: past the detector's resolve
    threshold but short of its fire threshold), which holds an open alert open and opens none:
    the hysteresis that keeps a signal hovering at the threshold from flapping."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._open: dict[tuple[str, str | None], Alert] = {}
        self.revised = False

    def observe(self, rule: Rule, dimension: str | None, abnormal: bool | None, now_ms: int,
                message: str = "", expected: float | None = None, actual: float | None = None,
                clock_ms: int | None = None, severity: str | None = None) -> list[Alert]:
        """`now_ms`: the time the reading is about; `clock_ms`: when it was known (default
        `now_ms`); `severity`: this reading's, when the rule's varies with how bad it is."""
        key = (rule.kind, dimension)
        alert = self._open.get(key)
        if abnormal is None:
            if alert is not None and alert.state == FIRING:
                alert.normal_since_ms = None
            return []
        if abnormal:
            if alert is None:
                alert = Alert(rule.kind, severity or rule.severity, dimension, now_ms, message,
                              expected, actual)
                self._open[key] = alert
                self.alerts.append(alert)
            if alert.state == FIRING and (alert.message, alert.expected, alert.actual) != (
                    message, expected, actual):
                self.revised = True  # the figures of an alert people see have moved
            alert.message, alert.expected, alert.actual = message, expected, actual
            if severity and SEVERITIES.index(severity) > SEVERITIES.index(alert.severity):
                alert.severity = severity  # it got worse; it never reads better while open
            alert.normal_since_ms = None
            if alert.state == PENDING and now_ms - alert.start_ms >= rule.fire_after_ms:
                alert.state = FIRING
                alert.fired_ms = clock_ms if clock_ms is not None else now_ms
                alert.incident = incident_for(alert, self.alerts)
                return [alert]
            return []
        if alert is None:
            return []
        if alert.state == PENDING:  # never fired: it was a blip, forget it
            del self._open[key]
            self.alerts.remove(alert)
            return []
        alert.normal_since_ms = alert.normal_since_ms or now_ms
        if now_ms - alert.normal_since_ms >= rule.resolve_after_ms:
            alert.state, alert.end_ms = RESOLVED, alert.normal_since_ms
            del self._open[key]
            return [alert]
        return []

    def reopen(self, alert: Alert) -> None:
        """An alert still open when the worker stopped, back under watch."""
        self._open[(alert.kind, alert.dimension)] = alert

    def acknowledge(self, key: str, at_ms: int, by: str | None = None) -> Alert | None:
        """The alert acknowledged now; None when unknown or acknowledged before (the first
        acknowledgement stands)."""
        for alert in self.alerts:
            if alert.key == key and alert.acknowledged_ms is None:
                alert.acknowledged_ms, alert.acknowledged_by = at_ms, by
                return alert
        return None

    def unacknowledged(self) -> list[Alert]:
        """The alerts someone may still acknowledge (`awaits_acknowledgement`): a handful."""
        return [a for a in self.alerts if awaits_acknowledgement(a.kind, a.state, a.acknowledged_ms)]

    def open_of(self, kind: str) -> list[Alert]:
        return [a for (open_kind, _), a in self._open.items() if open_kind == kind]

    def is_open(self, kind: str, dimension: str | None) -> bool:
        return (kind, dimension) in self._open

    def opened_since(self, kind: str, since_ms: int) -> bool:
        """An alert of this kind is open (pending or firing) for some dimension value, and
        began at or after `since_ms`."""
        return any(open_kind == kind and alert.start_ms >= since_ms
                   for (open_kind, _), alert in self._open.items())

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == FIRING]
