"""Alerts against the simulator's labelled incidents: which alert answers which incident, how
late, and what fired with no incident to answer (bench/alert_quality.py and the tests)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# The alert kinds that answer each incident kind of the simulator.
ANSWERS: dict[str, set[str]] = {
    "payment_outage": {"orders_drop"},
    "payment_dark": {"payment_dark"},
    "device_dark": {"device_dark"},
    "region_dark": {"region_dark"},
    "price_glitch": {"price_glitch"},
    "bot_burst": {"bot_burst"},
    "oversell": {"oversell"},
    "malformed_burst": {"rejected_rate"},
    "duplicate_resend": {"duplicate_rate", "resend_flood"},
    "late_arrivals": {"late_arrivals"},
}
PIPELINE_KINDS = {"stream_lag", "heartbeat_missing"}  # about the run, not the night's orders
OVERSTAY_MS = 10 * 60_000  # an alert open this long after the incident it answers ended
GRACE_MS = 30_000
# Orders 30-300 s late are seen late only when they arrive.
AFTER_END_MS = {"late_arrivals": 300_000 + GRACE_MS}


def answers(alert: dict[str, Any], incident: dict[str, Any]) -> bool:
    if alert["kind"] not in ANSWERS[incident["kind"]]:
        return False
    if alert["dimension"] and incident["dimension"] and alert["dimension"] != incident["dimension"]:
        return False
    return _overlaps(alert, incident)


def _overlaps(alert: dict[str, Any], incident: dict[str, Any]) -> bool:
    after = AFTER_END_MS.get(incident["kind"], GRACE_MS)
    end = alert["end_ms"] if alert["end_ms"] is not None else 2 ** 62
    return bool(alert["start_ms"] <= incident["end_ms"] + after
                and end >= incident["start_ms"] - GRACE_MS)


@dataclass
class Score:
    incidents: int = 0
    detected: int = 0
    false_alarms: list[dict[str, Any]] = field(default_factory=list)
    secondary: list[dict[str, Any]] = field(default_factory=list)  # fired during another incident
    missed: list[dict[str, Any]] = field(default_factory=list)
    delays_ms: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    hours: float = 0.0

    def add_night(self, alerts: list[dict[str, Any]], incidents: list[dict[str, Any]],
                  hours: float) -> None:
        fired = [a for a in alerts if a["fired_ms"] is not None and a["kind"] not in PIPELINE_KINDS]
        self.hours += hours
        for incident in incidents:
            self.incidents += 1
            found = [a for a in fired if answers(a, incident)]
            if not found:
                self.missed.append(incident)
                continue
            self.detected += 1
            first = min(a["fired_ms"] for a in found)
            self.delays_ms[incident["kind"]].append(first - incident["start_ms"])
        for alert in fired:
            if any(answers(alert, i) for i in incidents):
                continue
            if any(_overlaps(alert, i) for i in incidents):
                self.secondary.append(alert)
            else:
                self.false_alarms.append(alert)

    def overstays(self, alerts: list[dict[str, Any]], incidents: list[dict[str, Any]],
                  night_end_ms: int) -> list[tuple[dict[str, Any], float]]:
        """Alerts that outlived their cause by more than OVERSTAY_MS (open at the night's end
        counts as ending then), with how many minutes: for one answering an incident, after the
        incident's end; for a false alarm, after its own start."""
        late = []
        for alert in alerts:
            if alert["fired_ms"] is None or alert["kind"] in PIPELINE_KINDS:
                continue
            end = alert["end_ms"] if alert["end_ms"] is not None else night_end_ms
            causes = [i for i in incidents if answers(alert, i) or _overlaps(alert, i)]
            since = max((i["end_ms"] for i in causes), default=alert["start_ms"])
            if end - since > OVERSTAY_MS:
                late.append((alert, (end - since) / 60_000))
        return late

    @property
    def recall(self) -> float:
        return self.detected / self.incidents if self.incidents else 1.0

    @property
    def false_alarms_per_hour(self) -> float:
        return len(self.false_alarms) / self.hours if self.hours else 0.0

    def median_delay_s(self, kind: str | None = None) -> float | None:
        delays = self.delays_ms[kind] if kind else [d for v in self.delays_ms.values() for d in v]
        return statistics.median(delays) / 1000 if delays else None
