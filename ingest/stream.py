"""Publishing payloads to a Redis stream, in batches of one round trip each."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis

# One EVALSHA appends a whole batch: a single reply per batch instead of one per entry, which
# is what lets a Python producer reach ~400k entries/s (BENCHMARKS.md). One key per call, so
# it stays valid on Redis Cluster when the stream is split over several keys.
_XADD_MANY = """
for i = 1, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'data', ARGV[i])
end
return #ARGV
"""


class StreamPublisher:
    """Appends payloads verbatim as `{data: payload}` entries of one stream."""

    def __init__(self, client: redis.Redis, stream: str, batch_size: int = 2000) -> None:
        self.client = client
        self.stream = stream
        self.batch_size = batch_size
        self._script = client.register_script(_XADD_MANY)
        self.published = 0

    def publish(self, payloads: Sequence[bytes]) -> int:
        for start in range(0, len(payloads), self.batch_size):
            batch = payloads[start:start + self.batch_size]
            self._script(keys=[self.stream], args=list(batch))
            self.published += len(batch)
        return len(payloads)


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
