"""Publishing payloads to a Redis stream, in batches of one round trip each."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import hiredis
import redis

from common.redis_server import node_client, refusal
from common.settings import Settings
from common.text import for_a_line
from ingest.partitions import split_by_partition


class Publisher(Protocol):
    @property
    def published(self) -> int: ...

    def publish(self, payloads: Sequence[bytes]) -> int: ...


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

    def packed(self, payloads: Sequence[bytes]) -> bytes:
        head = self._head
        return b"".join([head + b"$%d\r\n" % len(p) + p + b"\r\n" for p in payloads])

    def publish(self, payloads: Sequence[bytes]) -> int:
        return publish_together([self], [payloads])

    def sending(self) -> _Sending:
        return _Sending(self)


class _Sending:
    """One publish's hold on its stream's connection: each batch is sent before the replies of
    the one before it are read. The connection is this publish's alone until it closes."""

    def __init__(self, stream: StreamPublisher) -> None:
        self.stream = stream
        self.pool = stream.client.connection_pool
        self.connection = self.pool.get_connection()
        self.replies = _ReplyCounter(self.connection)
        self.unread = 0

    def send(self, batch: Sequence[bytes]) -> None:
        self.connection.send_packed_command([self.stream.packed(batch)], check_health=False)
        self.read_replies()
        self.unread = len(batch)

    def read_replies(self) -> None:
        self.replies.consume(self.unread)
        self.stream.published += self.unread
        self.unread = 0

    def __enter__(self) -> _Sending:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 _: Any) -> None:
        if err is not None:  # replies may be left unread: never reuse this socket
            self.connection.disconnect()
        self.pool.release(self.connection)
        if isinstance(err, redis.exceptions.NoPermissionError):
            user = self.pool.connection_kwargs.get("username")
            raise refusal(err, f"XADD {for_a_line(self.stream.stream)}", user) from None


def publish_together(streams: Sequence[StreamPublisher],
                     payloads: Sequence[Sequence[bytes]]) -> int:
    """Each stream's payloads, a batch to each stream in turn, so that every node of a cluster
    works while the others do (one stream after another left all but one idle)."""
    busy = [(stream, mine) for stream, mine in zip(streams, payloads, strict=True) if mine]
    if not busy:
        return 0
    with contextlib.ExitStack() as stack:
        sendings = [(stack.enter_context(stream.sending()), mine) for stream, mine in busy]
        size = max(stream.batch_size for stream, _ in busy)
        for start in range(0, max(len(mine) for _, mine in busy), size):
            for sending, mine in sendings:
                if start < len(mine):
                    sending.send(mine[start:start + size])
        for sending, _ in sendings:
            sending.read_replies()
    return sum(len(mine) for _, mine in busy)


class PartitionedPublisher:
    """Routes each payload to its partition's stream (shared/contract.md, "Partitions"): the
    reference implementation of the routing. One partition: the one stream, untouched."""

    def __init__(self, clients: Callable[[int], redis.Redis], settings: Settings) -> None:
        self.partitions = settings.partitions
        self.streams = [StreamPublisher(clients(p), settings.partition_stream(p),
                                        settings.publish_batch_size)
                        for p in range(self.partitions)]

    @property
    def published(self) -> int:
        return sum(s.published for s in self.streams)

    def publish(self, payloads: Sequence[bytes]) -> int:
        if self.partitions == 1:
            return self.streams[0].publish(payloads)
        publish_together(self.streams, split_by_partition(payloads, self.partitions))
        return len(payloads)


def publisher_for(client: redis.Redis, settings: Settings) -> Publisher:
    """The order stream's publisher: one stream, or routed over the partitions."""
    if settings.partitions == 1:
        return StreamPublisher(node_client(client, settings.orders_stream),
                               settings.orders_stream, settings.publish_batch_size)
    return PartitionedPublisher(lambda p: node_client(client, settings.partition_stream(p)),
                                settings)


def inventory_publisher(client: redis.Redis, settings: Settings) -> StreamPublisher:
    return StreamPublisher(node_client(client, settings.inventory_stream),
                           settings.inventory_stream, settings.publish_batch_size)


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
                said = str(reply)
                refused = said.startswith("NOPERM")  # the class redis-py's own parser gives it
                raise (redis.exceptions.NoPermissionError if refused else redis.ResponseError)(said)
            else:
                count -= 1
