"""Publishing payloads to a Redis stream, in batches of one round trip each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import hiredis
import redis

from common.redis_server import node_client, refusal
from common.settings import Settings
from common.text import for_a_line
from ingest.partitions import route


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
        except redis.exceptions.NoPermissionError as err:
            connection.disconnect()  # replies may be left unread: never reuse this socket
            user = pool.connection_kwargs.get("username")
            raise refusal(err, f"XADD {for_a_line(self.stream)}", user) from None
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return len(payloads)


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
        routed: list[list[bytes]] = [[] for _ in self.streams]
        for payload in payloads:
            routed[route(payload, self.partitions)].append(payload)
        for stream, mine in zip(self.streams, routed, strict=True):
            stream.publish(mine)
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
