"""Publishing payloads to a Redis stream, in batches of one round trip each."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import hiredis
import numpy as np
import redis

T = TypeVar("T")



class StreamPublisher:
    """Appends payloads verbatim as `{data: payload}` entries of one stream.

    Commands are packed in bulk (one bytes join per batch, not redis-py's per-command packing)
    and the next batch is sent before the replies of the previous one are read, so the server
    never waits for Python. BENCHMARKS.md has the figures next to redis-benchmark's ceiling.
    """

    def __init__(self, client: redis.Redis, stream: str, batch_size: int = 2000) -> None:
        self.client = client
        self.stream = stream
        self.batch_size = batch_size
        key = stream.encode()
        self._head = b"*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$4\r\ndata\r\n" % (len(key), key)
        self.published = 0

    def _packed(self, payloads: Sequence[bytes]) -> bytes:
        head = self._head
        return b"".join([head + b"$%d\r\n" % len(p) + p + b"\r\n" for p in payloads])

    def publish(self, payloads: Sequence[bytes]) -> int:
        if not payloads:
            return 0
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            replies = _ReplyCounter(connection)
            unread = 0
            for start in range(0, len(payloads), self.batch_size):
                batch = payloads[start:start + self.batch_size]
                connection.send_packed_command([self._packed(batch)], check_health=False)
                replies.consume(unread)
                self.published += unread
                unread = len(batch)
            replies.consume(unread)
            self.published += unread
        except BaseException:
            connection.disconnect()  # replies may be left unread: never reuse this socket
            raise
        finally:
            pool.release(connection)
        return len(payloads)


class _ReplyCounter:
    """Reads and checks XADD replies straight off the socket; redis-py's per-reply path costs
    more than the XADD itself. The connection is ours alone for the duration of a publish."""

    def __init__(self, connection: Any) -> None:
        self._socket = connection._sock
        self._reader = hiredis.Reader()

    def consume(self, count: int) -> None:
        while count:
            reply = self._reader.gets()
            if reply is False:
                data = self._socket.recv(1 << 16)
                if not data:
                    raise redis.ConnectionError("Redis closed the connection while publishing")
                self._reader.feed(data)
            elif isinstance(reply, hiredis.ReplyError):
                raise redis.ResponseError(str(reply))
            else:
                count -= 1


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


def publish_paced(publisher: StreamPublisher, payloads: Sequence[bytes], times_ms: np.ndarray,
                  pacer: Pacer | None, slice_ms: int = 100) -> None:
    """Publish in time order, waiting before each `slice_ms` slice of event time (None: no wait)."""
    if pacer is None:
        publisher.publish(payloads)
        return
    start = 0
    while start < len(payloads):
        end = int(np.searchsorted(times_ms, times_ms[start] + slice_ms, side="left"))
        end = max(end, start + 1)
        pacer.wait_until(int(times_ms[start]))
        publisher.publish(payloads[start:end])
        start = end


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` ahead: producing the next batch (Arrow and
    numpy release the GIL) overlaps with publishing this one."""
    buffer: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((False, None))
        except BaseException as err:  # handed to the consumer, which re-raises it
            buffer.put((False, err))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            more, item = buffer.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
