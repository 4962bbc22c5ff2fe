"""The re-send flood (ingest/detect/resends.py): a stream of orders already counted is an
incident, though the night's clock stands still all through it (issue #24, item 1: a second
`gmv demo` replayed the night, 270,769 duplicates, and no alert fired)."""

from __future__ import annotations

from ingest.detect.alerts import FIRING, RESOLVED, AlertBook
from ingest.detect.resends import RESEND_FLOOD, ResendFlood

CLOCK_MS = 1_794_330_000_000  # the night's clock, where the flood finds it
ARRIVAL_MS = 1_794_300_000_000  # the stream's ids: another clock altogether


def test_a_flood_fires_though_the_nights_clock_stands_still_and_is_stamped_on_that_clock() -> None:
    book = AlertBook()
    flood = ResendFlood(book)
    for second in range(60):  # a normal minute: 1 % re-sends, the clock moving with arrivals
        assert flood.after_batch(1_000, 10, ARRIVAL_MS + second * 1000,
                                 CLOCK_MS - 60_000 + second * 1000) == []
    fired = []
    for second in range(60, 80):  # every event a re-send; the night's clock stays put
        fired += flood.after_batch(1_000, 1_000, ARRIVAL_MS + second * 1000, CLOCK_MS - 1000)
    (alert,) = fired
    assert alert.kind == RESEND_FLOOD.kind and alert.state == FIRING
    # Opened when the share crossed half (the window still held normal seconds), on the night's
    # clock walked on by arrival time: among the night's alerts, not at a wall time.
    assert CLOCK_MS - 1000 <= alert.start_ms <= CLOCK_MS + 20_000
    assert alert.actual is not None and alert.actual > 0.9 and "re-sends" in alert.message
    resolved = []
    for second in range(80, 120):  # the producer stopped re-sending; the night goes on
        resolved += flood.after_batch(1_000, 10, ARRIVAL_MS + second * 1000,
                                      CLOCK_MS + (second - 80) * 1000)
    assert [a.state for a in resolved] == [RESOLVED]


def test_the_nights_usual_duplicates_and_a_thin_stream_fire_nothing() -> None:
    book = AlertBook()
    flood = ResendFlood(book)
    for second in range(300):  # 30 % re-sent in a burst: duplicate_rate's to judge, not a flood
        flood.after_batch(1_300, 300, ARRIVAL_MS + second * 1000, CLOCK_MS + second * 1000)
    for second in range(300, 400):  # a trickle of re-sends alone: too few events to tell
        flood.after_batch(10, 10, ARRIVAL_MS + second * 1000, CLOCK_MS + 300_000)
    assert book.alerts == []


def test_batches_without_an_arrival_time_are_not_judged() -> None:
    flood = ResendFlood(AlertBook())
    assert flood.after_batch(5_000, 5_000, None, CLOCK_MS) == []
