"""The /ops alert feed as built on the server: its count, its folds, and its one clock."""

from __future__ import annotations

from typing import Any

from dashboard.alert_feed import alert_count, alert_items, feed_digest

MIDNIGHT_MS = 1794326400000  # 2026-11-11 00:00 Beijing time


def alert(**overrides: Any) -> dict[str, Any]:
    made = {"kind": "oversell", "severity": "critical", "state": "firing", "dimension": "item=i1",
            "message": "oversold", "start_ms": MIDNIGHT_MS + 60_000, "end_ms": None,
            "acknowledged_ms": None, "acknowledged_by": None, "key": "oversell|item=i1|1"}
    return {**made, **overrides}


def texts(component: Any) -> str:
    if isinstance(component, (list, tuple)):
        return " ".join(texts(c) for c in component)
    if isinstance(component, str):
        return component
    return texts(getattr(component, "children", None) or "")


def test_the_count_says_how_many_fire_and_how_many_wait() -> None:
    alerts = [alert(key="a"), alert(key="b", acknowledged_ms=MIDNIGHT_MS, acknowledged_by="ada"),
              alert(key="c", state="resolved", end_ms=MIDNIGHT_MS + 120_000)]
    assert alert_count(alerts, "zh") == "2 条进行中 · 1 条待确认"
    assert alert_count(alerts, "en") == "2 firing · 1 unacknowledged"


def test_an_acknowledgement_is_said_by_how_long_ago_not_by_the_wall_clock() -> None:
    acked_ms = 1796490000000  # a wall-clock time, hours from the night's
    acked = alert(acknowledged_ms=acked_ms, acknowledged_by="ada")
    shown = texts(alert_items([acked], "zh", now_ms=acked_ms + 3 * 60_000 + 5_000))
    assert "3 分钟前确认 · ada" in shown and "已确认 1 条" in shown
    shown = texts(alert_items([acked], "en", now_ms=acked_ms + 10_000))
    assert "acknowledged by ada · just now" in shown


def test_the_watchdogs_wall_clock_stamps_are_labelled() -> None:
    beat = alert(kind="heartbeat_missing", dimension=None, start_ms=1796490000000,
                 key="heartbeat_missing||1796490000000")
    assert "（墙钟时间）" in texts(alert_items([beat], "zh"))
    assert "(wall clock)" in texts(alert_items([beat], "en"))
    assert "wall clock" not in texts(alert_items([alert()], "en"))


def test_the_digest_changes_with_what_the_feed_shows_and_only_then() -> None:
    alerts = [alert(acknowledged_ms=MIDNIGHT_MS, acknowledged_by="ada")]
    assert feed_digest(alerts, MIDNIGHT_MS + 1_000) == feed_digest(alerts, MIDNIGHT_MS + 59_000)
    assert feed_digest(alerts, MIDNIGHT_MS) != feed_digest(alerts, MIDNIGHT_MS + 61_000)
    assert feed_digest(alerts, MIDNIGHT_MS) != feed_digest([alert(message="more")], MIDNIGHT_MS)
