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
              alert(key="c", kind="orders_drop", dimension=None, state="resolved",
                    end_ms=MIDNIGHT_MS + 120_000)]
    assert alert_count(alerts, "zh") == "2 起事件进行中 · 1 起待确认"
    assert alert_count(alerts, "en") == "2 firing · 1 unacknowledged"


def test_a_resolved_oversell_nobody_has_seen_still_waits_with_its_button() -> None:
    """The overselling stopped (its alert resolved), but the units sold beyond the stock are
    still to be dealt with: it stays at the top with its button until someone acknowledges it;
    then it is folded with the resolved. A resolved drop is folded at once."""
    oversold = alert(key="o", state="resolved", end_ms=MIDNIGHT_MS + 420_000)
    drop = alert(key="d", kind="orders_drop", dimension=None, state="resolved",
                 end_ms=MIDNIGHT_MS + 120_000)
    assert alert_count([oversold, drop], "en") == "0 firing · 1 unacknowledged"
    top, *folds = alert_items([oversold, drop], "en")
    assert "Acknowledge" in texts(top) and "i1" in texts(top)
    assert texts(folds).count("Acknowledge") == 0 and "1 resolved" in texts(folds)
    seen = {**oversold, "acknowledged_ms": MIDNIGHT_MS + 500_000, "acknowledged_by": "ada"}
    top, *folds = alert_items([seen, drop], "en", now_ms=MIDNIGHT_MS + 560_000)
    assert "Acknowledge" not in texts([top, *folds]) and "2 resolved" in texts(folds)


def test_an_acknowledgement_is_said_by_how_long_ago_not_by_the_wall_clock() -> None:
    acked_ms = 1796490000000  # a wall-clock time, hours from the night's
    acked = alert(acknowledged_ms=acked_ms, acknowledged_by="ada")
    shown = texts(alert_items([acked], "zh", now_ms=acked_ms + 3 * 60_000 + 5_000))
    assert "3 分钟前确认 · ada" in shown and "已确认 1 起" in shown
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


def test_the_alerts_one_cause_set_off_are_one_incident_under_its_cause() -> None:
    """Mobile half dark also dropped the site's orders: one row, the channel's, with the drop
    beneath it as evidence; counted once; a separate cause stays a row of its own."""
    drop = alert(kind="orders_drop", severity="critical", dimension=None, key="orders_drop||1",
                 start_ms=MIDNIGHT_MS + 60_000, message="orders 148/s against 237/s expected",
                 expected=237.0, actual=148.0, incident="orders_drop||1")
    dark = alert(kind="device_dark", severity="warning", dimension="device=mobile",
                 key="device_dark|device=mobile|2", start_ms=MIDNIGHT_MS + 62_000,
                 expected=975.0, actual=578.0, incident="orders_drop||1")
    glitch = alert(kind="price_glitch", dimension="category=luxury", key="price_glitch|c|3",
                   start_ms=MIDNIGHT_MS + 70_000, expected=100.0, actual=550.0,
                   incident="price_glitch|c|3")
    alerts = [drop, dark, glitch]
    assert alert_count(alerts, "zh") == "2 起事件进行中 · 2 起待确认"
    (feed,) = alert_items(alerts, "zh")
    rows = feed.children
    assert len(rows) == 2
    first = texts(rows[0])
    assert first.index("手机端订单下滑") < first.index("同时：全站订单骤降")
    assert "同时" not in texts(rows[1]) and "奢品品类价格异常" in texts(rows[1])
    assert [b.id["key"] for r in rows for b in _buttons(r)] == [dark["key"], glitch["key"]]
    acked = [{**a, "acknowledged_ms": MIDNIGHT_MS} if a is not glitch else a for a in alerts]
    assert alert_count(acked, "zh") == "2 起事件进行中 · 1 起待确认"


def _buttons(component: Any) -> list[Any]:
    found = []
    for child in getattr(component, "children", None) or []:
        if not isinstance(child, str) and child is not None:
            if type(child).__name__ == "Button":
                found.append(child)
            found += _buttons(child)
    return found


def test_a_row_names_its_place_once() -> None:
    """'商品 i1 超卖' needs no '商品：i1' beside it; a place the headline does not say is shown."""
    shown = texts(alert_items([alert()], "zh", now_ms=MIDNIGHT_MS))
    assert shown.count("i1") == 1, shown
    lag = alert(kind="stream_lag", dimension="partition=2", key="lag")
    assert "分区：2" in texts(alert_items([lag], "zh", now_ms=MIDNIGHT_MS))


def test_thousands_of_ended_oversells_awaiting_acknowledgement_keep_the_feed_small() -> None:
    """A night of 3,000 oversold items, each ended and unseen: the newest 20 stand with their
    buttons, the rest are folded under a line that says how many; the count says all wait."""
    ended = [alert(key=f"oversell|item=i{n}|{n}", dimension=f"item=i{n}", state="resolved",
                   start_ms=MIDNIGHT_MS + n * 1000, end_ms=MIDNIGHT_MS + n * 1000 + 300_000)
             for n in range(3000)]
    top, fold = alert_items(ended, "en")
    assert len(top.children) == 20 and "i2999" in texts(top) and "i2979" not in texts(top)
    assert "2980 more ended, awaiting acknowledgement" in texts(fold)
    assert len(fold.children[1].children) <= 20
    assert alert_count(ended, "en") == "0 firing · 3000 unacknowledged"
