"""Alerts one cause sets off, as one incident: a payment path gone dark also drops the site's
orders (and, with the accepted flow shrinking, raises the share of rejected and late events); a
stream of re-sends is both a duplicate rate and a re-send flood. Each alert keeps its kind; the
alerts of one incident share its `incident` id (the key of the first of them), and the cause is
the one ranked first (a dark path, region or channel before the drop it explains)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

WITHIN_MS = 30_000  # how far apart a cause's start and its effect's may be (either first)

_DARK = ("payment_dark", "device_dark", "region_dark")
_DROPS = ("orders_drop", "gmv_drop")
# Effects of the accepted flow collapsing: shares of what is not accepted grow.
_SHARES = ("rejected_rate", "late_arrivals")
# cause -> the kinds of alert it sets off.
EFFECTS: dict[str, set[str]] = {
    **{dark: {*_DROPS, *_SHARES} for dark in _DARK},
    "orders_drop": {"gmv_drop", *_SHARES},
    "resend_flood": {"duplicate_rate"},
    "duplicate_rate": {"resend_flood"},
    "heartbeat_missing": {"stream_lag"},
}
# Which alert of an incident names its cause: the lowest rank, then the earliest.
CAUSE_RANK = {**dict.fromkeys(_DARK, 0), "price_glitch": 0, "oversell": 0, "stream_gap": 0,
              "bot_burst": 0, "resend_flood": 0, "heartbeat_missing": 0,
              "orders_drop": 1, "duplicate_rate": 1, "stream_lag": 1, "gmv_drop": 2,
              "rejected_rate": 2, "late_arrivals": 3}


def _explains(cause: Any, effect: Any) -> bool:
    """`cause` set `effect` off: a kind it sets off, beginning within WITHIN_MS of the cause (a
    drop may show a second before the dark path that explains it). A long alert that began well
    before another does not take it in."""
    return effect.kind in EFFECTS.get(cause.kind, ()) \
        and abs(effect.start_ms - cause.start_ms) <= WITHIN_MS


def incident_for(alert: Any, others: Iterable[Any]) -> str:
    """The incident a newly firing `alert` belongs to: that of a fired alert it explains or that
    explains it (the earliest such); else an incident of its own (its key). `others`: the
    book's alerts (Alert objects)."""
    found = [other for other in others
             if other is not alert and other.incident and other.fired_ms is not None
             and (_explains(other, alert) or _explains(alert, other))]
    if not found:
        return str(alert.key)
    return str(min(found, key=lambda other: other.start_ms).incident)


def by_incident(alerts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The alerts (as JSON) by incident, in the order each incident's first alert comes, its
    cause (the lowest rank, then the earliest) first in each. An alert without an incident id
    (written before there were any) is an incident of its own."""
    groups: dict[object, list[dict[str, Any]]] = {}
    for alert in alerts:
        groups.setdefault(alert.get("incident") or alert.get("key") or id(alert), []).append(alert)
    incidents = []
    for group in groups.values():
        cause = min(group, key=lambda a: (CAUSE_RANK.get(str(a.get("kind")), 1),
                                          a.get("start_ms") or 0))
        incidents.append([cause, *(a for a in group if a is not cause)])
    return incidents
