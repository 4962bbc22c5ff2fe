"""How fast the worker counts, and how fast it could: the pipeline-health figures of the snapshot."""

from __future__ import annotations

import time
from collections import deque

RATE_WINDOW_S = 10.0


class RateMeter:
    """Events per second over the last ten seconds, and the capacity: events per second of the
    time spent processing them (reading, decoding, committing), i.e. the rate if never idle."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self.started = time.monotonic()
        self._batches: deque[tuple[float, int, float]] = deque()  # (at, events, busy seconds)

    def record(self, events: int, busy_s: float) -> None:
        now = time.monotonic()
        self._batches.append((now, events, busy_s))
        while self._batches and self._batches[0][0] < now - self.window_s:
            self._batches.popleft()

    def figures(self) -> dict[str, int | None]:
        now = time.monotonic()
        recent = [b for b in list(self._batches) if b[0] >= now - self.window_s]
        events = sum(b[1] for b in recent)
        busy_s = sum(b[2] for b in recent)
        span_s = min(self.window_s, max(now - self.started, 1e-3))
        return {"ingest_eps": round(events / span_s),
                "capacity_eps": round(events / busy_s) if busy_s > 0 and events else None}
