"""The alert benches' scoring: an alert that outlives its cause is found (issue #25: on a full
day, no alert may stay open more than ten minutes after what set it off has ended)."""

from __future__ import annotations

from typing import Any

from bench.scoring import Score

MINUTE = 60_000


def incident(start_min: int, end_min: int) -> dict[str, Any]:
    return {"kind": "payment_dark", "dimension": "payment=alipay", "start_ms": start_min * MINUTE,
            "end_ms": end_min * MINUTE}


def alert(kind: str, start_min: float, end_min: float | None) -> dict[str, Any]:
    return {"kind": kind, "dimension": "payment=alipay" if kind == "payment_dark" else None,
            "start_ms": int(start_min * MINUTE), "fired_ms": int(start_min * MINUTE) + 3_000,
            "end_ms": None if end_min is None else int(end_min * MINUTE)}


def test_an_alert_open_long_after_its_cause_ended_is_an_overstay() -> None:
    cause = incident(10, 12)
    alerts = [alert("payment_dark", 10, 12.5), alert("orders_drop", 10, 30),
              alert("payment_dark", 60, None)]
    late = Score().overstays(alerts, [cause], night_end_ms=120 * MINUTE)
    assert [(a["kind"], round(minutes)) for a, minutes in late] == [
        ("orders_drop", 18), ("payment_dark", 60)]  # the false alarm: open from 01:00 to the end
