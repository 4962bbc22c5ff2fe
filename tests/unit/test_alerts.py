"""The alert lifecycle: quiet on blips, firing after its delay, resolving after calm, once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.detect.alerts import FIRING, RESOLVED, AlertBook, Rule
from ingest.detect.keeper import parse_ack

RULE = Rule("device_dark", "major", fire_after_ms=5_000, resolve_after_ms=10_000)


def test_a_blip_shorter_than_the_delay_never_fires() -> None:
    book = AlertBook()
    assert book.observe(RULE, "device=pad", True, 0) == []
    assert book.observe(RULE, "device=pad", False, 3_000) == []
    assert book.alerts == []


def test_pending_then_firing_then_resolved_after_a_calm_spell() -> None:
    book = AlertBook()
    for t in range(0, 5_000, 1_000):
        assert book.observe(RULE, "device=pad", True, t, "pad is dark") == []
    (fired,) = book.observe(RULE, "device=pad", True, 5_000, "pad is dark", 120.0, 0.0)
    assert fired.state == FIRING and fired.start_ms == 0 and fired.end_ms is None
    # Flapping inside the resolve delay changes nothing and says nothing.
    assert book.observe(RULE, "device=pad", False, 6_000) == []
    assert book.observe(RULE, "device=pad", True, 7_000) == []
    assert book.observe(RULE, "device=pad", False, 8_000) == []
    assert book.observe(RULE, "device=pad", False, 17_000) == []
    (resolved,) = book.observe(RULE, "device=pad", False, 18_000)
    assert resolved is fired and resolved.state == RESOLVED and resolved.end_ms == 8_000
    printed = resolved.as_json()
    assert printed["start"] == "1970-01-01T08:00:00.000+08:00" and printed["dimension"] == "device=pad"
    assert {"kind", "severity", "start", "end", "dimension", "message"} <= printed.keys()


def test_dimensions_are_separate_alerts_and_acknowledgement_sticks() -> None:
    book = AlertBook()
    fire_now = Rule("oversell", "critical", 0, 0)
    (a,) = book.observe(fire_now, "item=i1", True, 10)
    (b,) = book.observe(fire_now, "item=i2", True, 20)
    assert a is not b and len(book.firing()) == 2
    assert book.acknowledge(a.key, 99) and not book.acknowledge(a.key, 100)
    assert a.acknowledged_ms == 99 and b.acknowledged_ms is None


def test_a_reading_between_the_thresholds_holds_an_open_alert_and_opens_none() -> None:
    book = AlertBook()
    fire_now = Rule("orders_drop", "critical", 0, 5_000)
    assert book.observe(fire_now, None, None, 0) == [] and book.alerts == []
    (fired,) = book.observe(fire_now, None, True, 1_000, severity="warning")
    assert fired.severity == "warning" and fired.fired_ms == 1_000
    assert book.observe(fire_now, None, True, 2_000, severity="critical") == []
    assert fired.severity == "critical"  # worse; it never reads better while open
    assert book.observe(fire_now, None, False, 3_000) == []  # calm begins...
    assert book.observe(fire_now, None, None, 4_000) == []  # ...and is broken by a hold
    assert book.observe(fire_now, None, False, 8_500) == []
    (resolved,) = book.observe(fire_now, None, False, 13_500)
    assert resolved.state == RESOLVED and resolved.end_ms == 8_500


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_in_the_acknowledgements_hash_parse_or_are_refused(mark: bytes) -> None:
    """The hash is writable by anyone with the dashboard's Redis user: whatever it holds, the
    worker reads a time and a name, or nothing, and never raises."""
    at_ms, by = parse_ack(mark)
    assert at_ms is None or isinstance(at_ms, int)
    assert by is None or (isinstance(by, str) and len(by) <= 64)


def test_acknowledgements_as_the_dashboard_writes_them_and_as_it_wrote_them_before() -> None:
    assert parse_ack(b'{"at_ms": 5, "by": "mei"}') == (5, "mei")
    assert parse_ack(b"1794330000000") == (1_794_330_000_000, None)
    assert parse_ack(b'{"at_ms": "5"}') == (None, None) and parse_ack(b"true") == (None, None)
