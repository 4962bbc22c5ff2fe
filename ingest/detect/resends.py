"""A flood of re-sends: most of what arrives is orders already counted (a producer replaying its
log, a second `gmv demo` replaying the night from 23:59). `duplicate_rate` cannot see it: the
night's clock stands still while every order is of a second already counted, and it times its
alerts by that clock; and a worker that starts into the flood learns it as the night's usual.
So this is timed by arrival (the stream ids' milliseconds) and judged against an absolute bar:
a stream that is mostly re-sends is an incident whatever the night has learnt.

Its alerts are stamped on the night's clock, walked on by arrival time while the clock stands
still (the moment the night would have reached), so that they sit among the night's others."""

from __future__ import annotations

from collections import deque

from ingest.detect.alerts import Alert, AlertBook, Rule

RESEND_FLOOD = Rule("resend_flood", "major", 5_000, 15_000)
WINDOW_MS = 10_000  # of arrival time
MIN_EVENTS = 200  # in the window, to judge at all
FIRE_SHARE, HOLD_SHARE = 0.5, 0.2  # of the window's events that were duplicates


class ResendFlood:
    def __init__(self, book: AlertBook) -> None:
        self.book = book
        self.window: deque[tuple[int, int, int]] = deque()  # (arrival ms, sent, duplicates)
        self.sent = self.duplicates = 0  # the window's sums
        self.clock_ms = self.arrival_when_clock_moved_ms = self.stamp_ms = 0

    def after_batch(self, sent: int, duplicates: int, arrival_ms: int | None,
                    clock_ms: int, first_arrival_ms: int | None = None) -> list[Alert]:
        """`arrival_ms`: the newest arrival of the batch (its last stream id), None if unknown;
        `first_arrival_ms`: its oldest; `clock_ms`: the night's clock after it."""
        if arrival_ms is None or sent <= 0:
            return []
        if clock_ms > self.clock_ms:
            # When the clock moved within the batch is not known: at its newest arrival, the
            # stamps never run ahead of it; but a worker's first batch finds the clock where the
            # last run left it, before any of the batch arrived.
            moved_ms = first_arrival_ms if first_arrival_ms is not None and not self.clock_ms \
                else arrival_ms
            self.clock_ms, self.arrival_when_clock_moved_ms = clock_ms, moved_ms
        # A batch read in a backlog may span more arrival time than the rule waits (a minute of
        # re-sends read into one checkpoint): judged at its first arrival too, so that its span
        # counts towards the wait as it would have, read as it came.
        first = None if first_arrival_ms is None or first_arrival_ms >= arrival_ms \
            else max(self.stamp_ms, self._walked(first_arrival_ms))
        self.stamp_ms = max(self.stamp_ms, self._walked(arrival_ms))
        self.window.append((arrival_ms, sent, duplicates))
        self.sent, self.duplicates = self.sent + sent, self.duplicates + duplicates
        while self.window[0][0] < arrival_ms - WINDOW_MS:
            _, old_sent, old_duplicates = self.window.popleft()
            self.sent, self.duplicates = self.sent - old_sent, self.duplicates - old_duplicates
        is_open = self.book.is_open(RESEND_FLOOD.kind, None)
        if self.sent < MIN_EVENTS:
            return []
        share = self.duplicates / self.sent
        reading = True if share >= FIRE_SHARE else (
            None if is_open and share >= HOLD_SHARE else False)
        message = (f"{share:.0%} of the last {self.sent:,} events were re-sends of orders "
                   f"already counted ({self.duplicates:,} in {WINDOW_MS // 1000} s of arrivals)")
        changes = [] if first is None or reading is not True else self.book.observe(
            RESEND_FLOOD, None, reading, first, message, expected=FIRE_SHARE,
            actual=round(share, 4))
        return changes + self.book.observe(RESEND_FLOOD, None, reading, self.stamp_ms, message,
                                           expected=FIRE_SHARE, actual=round(share, 4))

    def _walked(self, arrival_ms: int) -> int:
        """The night's clock walked on by arrival time since it last moved."""
        return self.clock_ms + max(arrival_ms - self.arrival_when_clock_moved_ms, 0)
