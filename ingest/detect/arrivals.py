"""Detectors over what arrives, batch by batch: the share of events rejected, of duplicates, of
orders arriving late, and of orders concentrated on a few buyers (a bot burst).

Each is judged over the newest events, pooled back until there are enough to tell (or the
window's span runs out), against the night's own rate so far among the windows judged normal.
While the accepted orders themselves collapse (an outage: `orders_drop` is the alert for it),
shares of them say nothing new, since what does not collapse (retries, junk, a bot) becomes a
larger share of less: these detectors then open no alert and learn nothing.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingest.detect.alerts import Alert, AlertBook, Rule

WINDOW_EVENTS = 2_000
WINDOW_MAX_MS = 30_000
WINDOW_MAX_BATCHES = 4_096
MIN_EVENTS = 500
MIN_BASELINE_EVENTS = 5_000
LATE_AFTER_MS = 10_000  # an order is late when its second is this far behind the clock
Z = 4.0
RATE_FIRE, RATE_HOLD = (3.0, 0.01), (1.5, 0.005)  # (factor of usual, points above usual)
BOT_MIN_ORDERS, BOT_MIN_SHARE = 10, 0.005  # a buyer this busy in the window is suspicious
BOT_FIRE, BOT_HOLD = 0.02, 0.01  # share of the window's orders from suspicious buyers

FLOW_NOW_MS = 5_000  # accepted orders per second of the clock over its last five seconds...
FLOW_MEMORY_MS = 120_000  # ...against the last two minutes of batches judged normal
FLOW_TRUSTED_MS = 30_000
FLOW_COLLAPSED = 0.5

FIRE_MS, RESOLVE_MS = 3_000, 10_000
REJECTED_RATE = Rule("rejected_rate", "warning", FIRE_MS, RESOLVE_MS)
DUPLICATE_RATE = Rule("duplicate_rate", "warning", FIRE_MS, RESOLVE_MS)
LATE_ARRIVALS = Rule("late_arrivals", "warning", FIRE_MS, RESOLVE_MS)
BOT_BURST = Rule("bot_burst", "major", FIRE_MS, RESOLVE_MS)


@dataclass
class Arrived:
    clock_ms: int
    covered_ms: int  # how far this batch moved the clock
    sent: int
    rejected: int
    duplicates: int
    accepted: int
    late: int
    buyers: pa.Array


@dataclass
class _Rate:
    """A share (part of whole) and its usual level, learned from the windows judged normal."""

    rule: Rule
    part: str
    whole: str
    what: str
    usual_part: int = 0
    usual_whole: int = 0

    @property
    def usual(self) -> float | None:
        return self.usual_part / self.usual_whole if self.usual_whole >= MIN_BASELINE_EVENTS \
            else None


def _beyond(share: float, usual: float, factor: float, points: float) -> bool:
    return share >= max(usual * factor, usual + points)


class ArrivalDetectors:
    def __init__(self, book: AlertBook) -> None:
        self.book = book
        # Bounded also by count: a clock that stands still (a stuck producer) must not grow it.
        self.window: deque[Arrived] = deque(maxlen=WINDOW_MAX_BATCHES)
        self.clock_ms: int | None = None
        self.rates = [
            _Rate(REJECTED_RATE, "rejected", "sent", "of events rejected"),
            _Rate(DUPLICATE_RATE, "duplicates", "sent", "of events duplicates"),
            _Rate(LATE_ARRIVALS, "late", "accepted",
                  f"of orders arriving over {LATE_AFTER_MS // 1000} s late"),
        ]
        self.usual_bot_share = 0.0
        self.normal_flow: deque[Arrived] = deque()
        self.normal_accepted = self.normal_covered_ms = 0  # its sums, kept as it moves

    def after_batch(self, inserted: pa.Table, sent: int, rejected: int, duplicates: int,
                    clock_ms: int) -> list[Alert]:
        """One committed batch; `clock_ms`: the night's clock after it (its latest second)."""
        late = 0
        if self.clock_ms is not None and inserted.num_rows:
            late = pc.sum(pc.less(inserted["ts_ms"], self.clock_ms - LATE_AFTER_MS)).as_py() or 0
        covered = max(clock_ms - self.clock_ms, 0) if self.clock_ms is not None else 0
        self.clock_ms = clock_ms
        buyers = inserted["buyer_id"].combine_chunks().cast(pa.string()) if inserted.num_rows \
            else pa.array([], pa.string())
        batch = Arrived(clock_ms, covered, sent, rejected, duplicates, inserted.num_rows,
                        int(late), buyers)
        self.window.append(batch)
        while self.window and self.window[0].clock_ms < clock_ms - WINDOW_MAX_MS:
            self.window.popleft()
        if self._flow_collapsed(clock_ms):
            return []
        self.normal_flow.append(batch)
        self.normal_accepted += batch.accepted
        self.normal_covered_ms += batch.covered_ms
        while self.normal_flow[0].clock_ms < clock_ms - FLOW_MEMORY_MS:
            old = self.normal_flow.popleft()
            self.normal_accepted -= old.accepted
            self.normal_covered_ms -= old.covered_ms
        changes: list[Alert] = []
        for rate in self.rates:
            changes += self._rate(rate, batch)
        return changes + self._bots(clock_ms)

    def _flow_collapsed(self, clock_ms: int) -> bool:
        """Accepted orders per second of the clock now, under half of the recent normal."""
        if self.normal_covered_ms < FLOW_TRUSTED_MS:
            return False
        usual = self.normal_accepted / self.normal_covered_ms
        recent = [b for b in self.window if b.clock_ms > clock_ms - FLOW_NOW_MS]
        recent_ms = sum(b.covered_ms for b in recent)
        return recent_ms > 0 and sum(b.accepted for b in recent) / recent_ms < FLOW_COLLAPSED * usual

    def _newest(self, whole: str) -> list[Arrived]:
        """The newest batches holding WINDOW_EVENTS of `whole` (or all the window has)."""
        picked, total = [], 0
        for batch in reversed(self.window):
            picked.append(batch)
            total += getattr(batch, whole)
            if total >= WINDOW_EVENTS:
                break
        return picked

    def _rate(self, rate: _Rate, batch: Arrived) -> list[Alert]:
        usual = rate.usual
        newest = self._newest(rate.whole)
        part = sum(getattr(b, rate.part) for b in newest)
        whole = sum(getattr(b, rate.whole) for b in newest)
        is_open = self.book.is_open(rate.rule.kind, None)
        if usual is None or whole < MIN_EVENTS:
            if usual is None:  # learning the night's usual level
                rate.usual_part += getattr(batch, rate.part)
                rate.usual_whole += getattr(batch, rate.whole)
            return []
        share = part / whole
        z = (part - whole * usual) / math.sqrt(max(whole * usual * (1 - usual), 0.0) + 1)
        fire = _beyond(share, usual, *RATE_FIRE) and z >= Z
        reading = True if fire else (None if is_open and _beyond(share, usual, *RATE_HOLD)
                                     else False)
        changes = self.book.observe(
            rate.rule, None, reading, batch.clock_ms,
            f"{share:.1%} {rate.what} against {usual:.1%} usual ({part:,} of {whole:,})",
            expected=round(usual, 4), actual=round(share, 4))
        if reading is False:
            rate.usual_part += getattr(batch, rate.part)
            rate.usual_whole += getattr(batch, rate.whole)
        return changes

    def _bots(self, clock_ms: int) -> list[Alert]:
        newest = self._newest("accepted")
        orders = sum(b.accepted for b in newest)
        if orders < MIN_EVENTS:
            return []
        counts = pc.value_counts(pa.chunked_array([b.buyers for b in newest], pa.string()))
        busy = max(BOT_MIN_ORDERS, math.ceil(BOT_MIN_SHARE * orders))
        heavy = counts.filter(pc.greater_equal(counts.field("counts"), busy))
        pairs = sorted(zip(heavy.field("values").to_pylist(), heavy.field("counts").to_pylist(),
                           strict=True), key=lambda p: (-p[1], p[0]))
        share = sum(n for _, n in pairs) / orders
        is_open = self.book.is_open(BOT_BURST.kind, None)
        reading = True if share >= BOT_FIRE else (None if is_open and share >= BOT_HOLD else False)
        named = ", ".join(f"{buyer} {n / orders:.1%}" for buyer, n in pairs[:5])
        changes = self.book.observe(
            BOT_BURST, None, reading, clock_ms,
            f"{share:.1%} of orders from {len(pairs)} buyer{'s' * (len(pairs) != 1)}"
            f"{': ' + named if named else ''}", expected=round(self.usual_bot_share, 4),
            actual=round(share, 4))
        if reading is False:
            self.usual_bot_share = share
        return changes


HOLD_MAX_ROWS = 1_000_000  # a partition stopped for long must not make the pool grow unbounded


class HeldByClock:
    """The arrival detectors fed the partitions' checkpoints as one worker would have met them.

    Each partition commits its own span of event time, so the summed clock (the second every
    partition has reached) stands still for some checkpoints and then jumps: fed as they come,
    a jump would look like the flow of one partition over the span of all, a collapse. Orders
    of seconds beyond the clock are held until it reaches them; each step then holds exactly
    the orders of the seconds it moves the clock over (and the late ones)."""

    def __init__(self, detectors: ArrivalDetectors) -> None:
        self.detectors = detectors
        self.held: list[pa.Table] = []
        self.held_rows = self.rejected = self.duplicates = 0

    def after_batch(self, inserted: pa.Table, sent: int, rejected: int, duplicates: int,
                    clock_ms: int) -> list[Alert]:
        if inserted.num_rows:
            self.held.append(inserted.select(["ts_ms", "buyer_id"]))
            self.held_rows += inserted.num_rows
        self.rejected += rejected
        self.duplicates += duplicates
        before = self.detectors.clock_ms
        if before is not None and clock_ms <= before and self.held_rows < HOLD_MAX_ROWS:
            return []
        held = pa.concat_tables(self.held) if self.held else pa.table(
            {"ts_ms": pa.array([], pa.int64()), "buyer_id": pa.array([], pa.string())})
        due = pc.less(held["ts_ms"], clock_ms + 1000)
        ready, rest = held.filter(due), held.filter(pc.invert(due))
        self.held, self.held_rows = ([rest] if rest.num_rows else []), rest.num_rows
        rejected, duplicates, self.rejected, self.duplicates = \
            self.rejected, self.duplicates, 0, 0
        return self.detectors.after_batch(ready, ready.num_rows + rejected + duplicates,
                                          rejected, duplicates, clock_ms)
