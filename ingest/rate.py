"""How fast the worker counts, how busy it is, and how fast it could go: the pipeline-health
figures of the snapshot.

`load` is the share of the last ten seconds spent working (reading, judging, committing), not
waiting for orders. `capacity_eps` is the rate the worker reached flat out: measured whenever it
had a backlog (reads came back full), kept until the next one; before any, the rate its working
time implies (an underestimate at a trickle, where each commit's fixed cost weighs most).
`capacity_best_eps` is the largest of the night: flat out, or from the working time while the
worker counted at least BUSY_ENOUGH_EPS (what tonight's peak is held against: next year's
headroom), measured when the worker counts, with its `capacity_best_basis`. `night_capacity` is
the one capacity every reader shows.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

RATE_WINDOW_S = 10.0
FLAT_OUT_MIN_S = 2.0  # a backlog this long measures the capacity
BUSY_ENOUGH_EPS = 1_000  # below this, a commit's fixed cost hides what the worker could do


class Capacity(NamedTuple):
    """The pipeline's capacity (entries/s) and how it was measured (`flat_out`, `working_time`,
    `sum of partitions`)."""

    eps: int | None
    basis: str | None


def night_capacity(figures: Mapping[str, Any] | None) -> Capacity:
    """The capacity, the one figure every reader shows (the /ops tile, its utilisation and the
    peak's headroom, `gmv summary`, the report's next-year baseline), from the figures the worker
    publishes (its heartbeat, or the summary's copy of them): the night's best measurement with
    its basis; before any, the worker's current figure (docs/operating.md, "The capacity")."""
    figures = figures or {}
    best = figures.get("capacity_best_eps")
    if best:
        return Capacity(int(best), figures.get("capacity_best_basis")
                        or figures.get("capacity_basis"))
    current = figures.get("capacity_eps")
    return Capacity(int(current), figures.get("capacity_basis")) if current \
        else Capacity(None, None)


class RateMeter:
    def __init__(self, window_s: float = RATE_WINDOW_S, best_eps: int | None = None,
                 best_basis: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`best_eps`, `best_basis`: the night's best so far, as a previous run of this worker
        measured it. `clock`: seconds, monotonic (a test steps its own)."""
        self.window_s = window_s
        self.clock = clock
        self.started = clock()
        self._spans: deque[tuple[float, int, float]] = deque()  # (at, events, busy seconds)
        self._backlog: tuple[float, int] | None = None  # since when, events since
        self.flat_out_eps: int | None = None
        self.working_eps: int | None = None  # as the last commit's window implied it
        self.best_eps, self.best_basis = best_eps, best_basis

    def record(self, events: int, busy_s: float) -> None:
        """A commit's events and working time. The night's best moves here, when the worker
        counts, never when someone reads the figures: every reader between two commits sees
        the same capacity (the summary written after a commit, the heartbeats after it)."""
        now = self.clock()
        self._spans.append((now, events, busy_s))
        while self._spans and self._spans[0][0] < now - self.window_s:
            self._spans.popleft()
        events_in, busy_in, span_s = self._window(now)
        self.working_eps = round(events_in / busy_in) if busy_in > 0 and events_in else None
        if self.working_eps and events_in / span_s >= BUSY_ENOUGH_EPS:
            self._best(self.working_eps, "working_time")

    def backlog(self, full: bool, events: int) -> None:
        """A read came back full (more were waiting) or not: flat-out stretches measure the
        capacity."""
        now = self.clock()
        if full:
            since, counted = self._backlog or (now, 0)
            self._backlog = (since, counted + events)
            if now - since >= FLAT_OUT_MIN_S:
                self.flat_out_eps = round((counted + events) / (now - since))
                self._best(self.flat_out_eps, "flat_out")
        else:
            self._backlog = None

    def _best(self, eps: int, basis: str) -> None:
        if eps and eps > (self.best_eps or 0):
            self.best_eps, self.best_basis = eps, basis

    def _window(self, now: float) -> tuple[int, float, float]:
        """(events, busy seconds, seconds spanned) of the last window_s."""
        recent = [s for s in list(self._spans) if s[0] >= now - self.window_s]
        span_s = min(self.window_s, max(now - self.started, 1e-3))
        return sum(s[1] for s in recent), sum(s[2] for s in recent), span_s

    def figures(self) -> dict[str, float | int | str | None]:
        """The rate and load of the last window_s; the capacities as the last commit (or
        flat-out stretch) measured them: reading them changes nothing."""
        events, busy_s, span_s = self._window(self.clock())
        current = "flat_out" if self.flat_out_eps else "working_time"
        return {"ingest_eps": round(events / span_s), "load": round(min(busy_s / span_s, 1.0), 4),
                "capacity_eps": self.flat_out_eps or self.working_eps, "capacity_basis": current,
                "capacity_best_eps": self.best_eps,
                "capacity_best_basis": self.best_basis if self.best_eps else None}
