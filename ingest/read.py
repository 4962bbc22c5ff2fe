"""Reading the order stream from a position the worker keeps itself (XREAD, no consumer group):
the entries as ids and payloads side by side, in id order."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import redis

from ingest.payloads import Payloads


def epoch_key(stream: str) -> str:
    """A token the worker leaves beside its stream: gone or changed, the stream is another one
    (Redis came back empty), whatever its ids say."""
    return f"{stream}:epoch"


def id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _data(fields: list[bytes]) -> bytes | None:
    """The entry's `data` field (the first, should there be two), wherever it stands; None when
    it has none (then it is rejected as `no_data`)."""
    for name, value in zip(fields[::2], fields[1::2], strict=False):
        if name == b"data":
            return value
    return None


@dataclass
class Entries:
    """A batch of stream entries, in id order."""

    ids: list[bytes]
    payloads: list[bytes | None]  # None: the entry has no `data` field
    _prepared: Payloads | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_reply(cls, entries: list) -> Entries:
        """Raw XREAD entries: [id, [field, value, ...]]."""
        ids = [entry[0] for entry in entries]
        payloads = [fields[1] if len(fields) == 2 and fields[0] == b"data" else _data(fields)
                    for _, fields in entries]
        return cls(ids, payloads)

    @classmethod
    def joined(cls, batches: list[Entries]) -> Entries:
        if len(batches) == 1:
            return batches[0]
        return cls([i for b in batches for i in b.ids], [p for b in batches for p in b.payloads])

    @property
    def last_id(self) -> str:
        return self.ids[-1].decode()

    def payload(self, i: int) -> bytes | None:
        return self.payloads[i]

    @functools.cached_property
    def has_data(self) -> np.ndarray:
        if None not in self.payloads:
            return np.ones(len(self), bool)
        return np.array([p is not None for p in self.payloads], bool)

    def prepared(self) -> Payloads:
        """The payloads as one buffer with their quotes found (an entry without data: empty)."""
        if self._prepared is None:
            self._prepared = Payloads([p if p is not None else b"" for p in self.payloads]
                                      if not self.has_data.all() else self.payloads)  # type: ignore[arg-type]
        return self._prepared

    @property
    def first_arrival_ms(self) -> int:
        """A lower bound of every entry's arrival: ids only grow."""
        return id_key(self.ids[0])[0]


class StreamReader:
    """Batches of entries after `position`, one XREAD always in flight: the next is sent as soon
    as this batch's last id is known, so Redis prepares it while the worker judges this one (in
    one thread: no lock handed back and forth). An empty batch: nothing came within `block_ms`.

    Each XREAD goes with a GET of the stream's epoch marker and an XINFO STREAM just before it
    (one round trip): `marker` and `info` are as they stood when the batch just yielded was read
    after `read_after` (raw replies; None when there is no such key), which is how the worker
    sees entries removed before it read them, or another stream under the same name."""

    def __init__(self, client: redis.Redis, stream: str, position: str | None, count: int,
                 block_ms: int) -> None:
        self.client, self.stream, self.count, self.block_ms = client, stream, count, block_ms
        self.position = position or "0-0"
        self.info: list | None = None
        self.marker: bytes | None = None
        self.read_after = self.position

    def _send(self, connection: redis.connection.AbstractConnection, after: str) -> None:
        connection.send_packed_command(connection.pack_commands([
            ("GET", epoch_key(self.stream)), ("XINFO", "STREAM", self.stream),
            ("XREAD", "COUNT", self.count, "BLOCK", self.block_ms, "STREAMS", self.stream, after)]))

    def batches(self) -> Iterator[Entries]:
        pool = self.client.connection_pool
        connection = pool.get_connection()
        last = self.position
        try:
            self._send(connection, last)
            while True:
                marker = connection.read_response()
                try:
                    info = connection.read_response()
                except redis.ResponseError:  # no such stream (yet, or any more)
                    info = None
                reply = connection.read_response()  # raw: no per-entry dicts from redis-py
                entries = Entries.from_reply(reply[0][1] if reply else [])
                self.info, self.marker, self.read_after = info, marker, last
                if entries:
                    last = entries.last_id
                self._send(connection, last)
                yield entries
        finally:
            connection.disconnect()  # a reply may still be on its way: never reuse this socket
            pool.release(connection)
