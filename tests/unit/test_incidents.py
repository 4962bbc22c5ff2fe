"""Alerts one cause sets off are one incident (issue #25), decided in the alert book as each
alert fires: a dark path and the site-wide drop it causes, whichever shows first; a re-send flood
and the duplicate rate; never a long alert that began well before, nor unrelated kinds."""

from __future__ import annotations

from ingest.detect.alerts import AlertBook, Rule

SECOND = 1_000


def fire(book: AlertBook, kind: str, dimension: str | None, at_s: int) -> str:
    rule = Rule(kind, "critical", 3 * SECOND, 10 * SECOND)
    book.observe(rule, dimension, True, at_s * SECOND)
    (fired,) = book.observe(rule, dimension, True, (at_s + 3) * SECOND)
    return str(fired.incident)


def test_a_drop_and_the_dark_path_behind_it_are_one_incident_whichever_fires_first() -> None:
    book = AlertBook()
    drop = fire(book, "orders_drop", None, 100)
    dark = fire(book, "payment_dark", "payment=alipay", 102)
    assert dark == drop == "orders_drop||100000"
    late = fire(book, "late_arrivals", None, 110)
    assert late == drop


def test_unrelated_or_distant_alerts_stay_apart() -> None:
    book = AlertBook()
    late = fire(book, "late_arrivals", None, 100)  # a long alert, open since long before
    dark = fire(book, "payment_dark", "payment=card", 146)
    glitch = fire(book, "price_glitch", "category=luxury", 147)
    assert len({late, dark, glitch}) == 3
    flood = fire(book, "resend_flood", None, 300)
    assert fire(book, "duplicate_rate", None, 304) == flood
    assert book.alerts[0].as_json()["incident"] == late


def test_a_chart_marks_an_incident_once_from_its_first_alert_to_its_last() -> None:
    from dashboard.figures import one_per_incident

    drop = {"kind": "orders_drop", "severity": "critical", "state": "resolved", "key": "d",
            "incident": "d", "start_ms": 100_000, "end_ms": 160_000}
    dark = {"kind": "device_dark", "severity": "warning", "state": "firing", "key": "m",
            "incident": "d", "start_ms": 102_000, "end_ms": None}
    glitch = {"kind": "price_glitch", "severity": "critical", "state": "resolved", "key": "g",
              "incident": "g", "start_ms": 300_000, "end_ms": 310_000}
    marked = one_per_incident([drop, dark, glitch])
    assert [(m["kind"], m["severity"], m["state"], m["start_ms"], m["end_ms"]) for m in marked] \
        == [("device_dark", "critical", "firing", 100_000, None),
            ("price_glitch", "critical", "resolved", 300_000, 310_000)]
