"""One Redis connection's replies read straight off its socket (RESP2) by the compiled reader
(ingest/_resp.c): an XREAD reply as a few buffers, no Python object per entry; any other reply
as Python objects. redis-py only opens and authenticates the connection: from then on every reply
on it is read here, never by redis-py's own parser."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import redis
from redis._parsers.base import BaseParser
from redis.connection import AbstractConnection

try:
    from ingest import _resp
except ImportError:  # not built (no compiler at install): the reader uses redis-py's parser
    _resp = None  # type: ignore[assignment]

COMPILED = _resp is not None
INITIAL_BYTES = 1 << 20
KEPT_BYTES = 64 << 20  # a buffer grown past this for one huge reply is let go once it is read


class Replied(NamedTuple):
    """An XREAD reply as buffers: entry i's id is ids[id_offsets[i]:id_offsets[i + 1]]; its
    payload (its first `data` field) payloads[offsets[i]:offsets[i + 1]], followed by eight zero
    bytes at the end of the batch; `has_data[i]`: whether it has a `data` field at all."""

    ids: bytes
    id_offsets: np.ndarray
    arrival_ms: np.ndarray
    payloads: bytes
    offsets: np.ndarray
    has_data: np.ndarray


def supports(connection: AbstractConnection) -> bool:
    """Whether this connection's replies can be read here (RESP2, the compiled reader built)."""
    return COMPILED and str(getattr(connection, "protocol", 2) or 2) == "2"


class Wire:
    """The replies of one connected redis-py connection, in the order they come."""

    def __init__(self, connection: AbstractConnection) -> None:
        self.connection = connection
        self.buf = bytearray(INITIAL_BYTES)
        self.start = self.end = 0  # the bytes received and not yet taken: buf[start:end]
        self.scanner = _resp.Scanner()

    def send(self, packed: list[bytes]) -> None:
        self.connection.send_packed_command(packed, check_health=False)

    def value(self) -> Any:
        """The next reply as Python objects (an error reply raised as redis-py would)."""
        end = self._reply_end()
        try:
            value, _ = _resp.value(self.buf, self.start, end)
        except ValueError as err:
            raise redis.exceptions.InvalidResponse(f"Protocol error: {err}") from None
        self.start = end
        if isinstance(value, _resp.ReplyError):
            raise BaseParser.parse_error(str(value))
        return value

    def xread(self) -> Replied:
        """The next reply, an XREAD of one stream, as buffers (nothing came: no entries)."""
        end = self._reply_end()
        if self.buf[self.start] == ord("-"):
            self.value()  # an error reply: raised there
        try:
            count, ids, id_offsets, arrival, payloads, offsets, has_data, _ = _resp.xread(
                self.buf, self.start, end)
        except ValueError as err:
            raise redis.exceptions.InvalidResponse(f"Protocol error: {err}") from None
        self.start = end
        return Replied(ids, np.frombuffer(id_offsets, np.int64), np.frombuffer(arrival, np.int64),
                       payloads, np.frombuffer(offsets, np.int64),
                       np.frombuffer(has_data, np.bool_))

    def _reply_end(self) -> int:
        """Where the next complete reply ends in the buffer, receiving until it is all there."""
        if self.start == self.end:
            self.start = self.end = 0
            if len(self.buf) > KEPT_BYTES:
                self.buf = bytearray(INITIAL_BYTES)
        self.scanner.restart(self.start)
        while (found := self.scanner.complete(self.buf, self.start, self.end)) < 0:
            self._receive()
        return int(found)

    def _receive(self) -> None:
        if self.end == len(self.buf):
            if self.start > 0:  # room at the front: the reply so far moves there, scanned again
                kept = self.end - self.start
                self.buf[:kept] = self.buf[self.start:self.end]
                self.start, self.end = 0, kept
                self.scanner.restart(0)
            else:
                self.buf.extend(bytes(len(self.buf)))
        sock = self.connection._sock
        if sock is None:
            raise redis.ConnectionError("Connection closed.")
        try:
            with memoryview(self.buf) as view:
                received = sock.recv_into(view[self.end:])
        except TimeoutError:
            raise redis.TimeoutError("Timeout reading from socket") from None
        except OSError as err:
            raise redis.ConnectionError(f"Error while reading from socket: {err}") from None
        if not received:
            raise redis.ConnectionError("Connection closed by server.")
        self.end += received
