"""How fast the worker counts, how busy it is, and how fast it could go: the pipeline-health
figures of the snapshot.

`load` is the share of the last ten seconds spent working (reading, judging, committing), not
waiting for orders. `capacity_eps` is the rate the worker reached flat out: measured whenever it
had a backlog (reads came back full), kept until the next one; before any, the rate its working
time implies (an underestimate at a trickle, where each commit's fixed cost weighs most).
`capacity_best_eps` is the largest of the night: flat out, or from the working time while the
worker counted at least BUSY_ENOUGH_EPS (what tonight's peak is held against: next year's
headroom).
"""

from __future__ import annotations

import time
from collections import deque

RATE_WINDOW_S = 10.0
FLAT_OUT_MIN_S = 2.0  # a backlog this long measures the capacity
BUSY_ENOUGH_EPS = 1_000  # below this, a commit's fixed cost hides what the worker could do


class RateMeter:
    def __init__(self, window_s: float = RATE_WINDOW_S, best_eps: int | None = None) -> None:
        """`best_eps`: the night's best so far, as a previous run of this worker measured it."""
        self.window_s = window_s
        self.started = time.monotonic()
        self._spans: deque[tuple[float, int, float]] = deque()  # (at, events, busy seconds)
        self._backlog: tuple[float, int] | None = None  # since when, events since
        self.flat_out_eps: int | None = None
        self.best_eps = best_eps

    def record(self, events: int, busy_s: float) -> None:
        now = time.monotonic()
        self._spans.append((now, events, busy_s))
        while self._spans and self._spans[0][0] < now - self.window_s:
            self._spans.popleft()

    def backlog(self, full: bool, events: int) -> None:
        """A read came back full (more were waiting) or not: flat-out stretches measure the
        capacity."""
        now = time.monotonic()
        if full:
            since, counted = self._backlog or (now, 0)
            self._backlog = (since, counted + events)
            if now - since >= FLAT_OUT_MIN_S:
                self.flat_out_eps = round((counted + events) / (now - since))
        else:
            self._backlog = None

    def figures(self) -> dict[str, float | int | str | None]:
        now = time.monotonic()
        recent = [s for s in list(self._spans) if s[0] >= now - self.window_s]
        events = sum(s[1] for s in recent)
        busy_s = sum(s[2] for s in recent)
        span_s = min(self.window_s, max(now - self.started, 1e-3))
        working = round(events / busy_s) if busy_s > 0 and events else None
        for measured in (self.flat_out_eps,
                         working if events / span_s >= BUSY_ENOUGH_EPS else None):
            if measured:
                self.best_eps = max(self.best_eps or 0, measured)
        return {"ingest_eps": round(events / span_s), "load": round(min(busy_s / span_s, 1.0), 4),
                "capacity_eps": self.flat_out_eps or working,
                "capacity_basis": "flat_out" if self.flat_out_eps else "working_time",
                "capacity_best_eps": self.best_eps or self.flat_out_eps or working}
