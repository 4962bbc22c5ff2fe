"""Publishing at the night's own pace: event-time offsets reached in wall time divided by a speed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from common.stopping import raise_if_interrupted
from rehearsal.publish import Publisher


class Pacer:
    """Sleeps so that event-time offsets are reached in wall time divided by `speed`."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin_ms: int | None = None
        self._wall_origin = time.monotonic()

    def wait_until(self, event_ms: int) -> None:
        if self._origin_ms is None:
            self._origin_ms = event_ms
            self._wall_origin = time.monotonic()
            return
        due = self._wall_origin + (event_ms - self._origin_ms) / 1000.0 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        raise_if_interrupted()  # a Ctrl-C lost in a __del__ stops it here


def publish_paced(publisher: Publisher, payloads: Sequence[bytes], times_ms: np.ndarray,
                  pacer: Pacer | None, slice_ms: int = 100,
                  sent_to_ms: Callable[[int], None] | None = None) -> None:
    """Publish in time order, waiting before each `slice_ms` slice of event time (None: no wait);
    `sent_to_ms` is told, after each slice Redis holds, the time before which all is published."""
    if pacer is None:
        publisher.publish(payloads)
        if sent_to_ms is not None and len(payloads):
            sent_to_ms(int(times_ms[-1]) + 1)
        return
    start = 0
    while start < len(payloads):
        end = int(np.searchsorted(times_ms, times_ms[start] + slice_ms, side="left"))
        end = max(end, start + 1)
        pacer.wait_until(int(times_ms[start]))
        publisher.publish(payloads[start:end])
        if sent_to_ms is not None:
            sent_to_ms(int(times_ms[end - 1]) + 1)
        start = end
