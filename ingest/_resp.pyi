"""Stub of the compiled reader-decoder (ingest/_resp.c)."""

import numpy as np

Buffer = bytes | bytearray | memoryview | np.ndarray

PAYLOAD_MAX_BYTES: int
QUANTITY_MAX: int
TS_MIN_MS: int
TS_MAX_MS: int
MAX_AMOUNT_CENTS: int

class ReplyError(Exception):
    """An error reply (`-ERR ...`), as a value: the caller raises it as its client would."""

class Scanner:
    def __init__(self) -> None: ...
    def complete(self, buffer: Buffer, start: int, end: int) -> int:
        """The end of the reply starting at `start` once it is all in buffer[:end], else -1."""
    def restart(self, start: int) -> None: ...

def value(buffer: Buffer, start: int, end: int) -> tuple[object, int]:
    """One reply as Python objects, and where it ends."""

def xread(buffer: Buffer, start: int, end: int) -> tuple[
        int, bytes, bytes, bytes, bytes, bytes, bytes, int]:
    """(entries, ids, id_offsets, arrival_ms, payloads, offsets, has_data, end)."""

def canonical(payloads: Buffer, offsets: Buffer, has_data: Buffer) -> tuple[bytes, ...]:
    """(index, ts_ms, amount_cents, quantity, then offsets and bytes of each of the eight texts,
    then payment's validity bitmap: empty when every order has one)."""

def routes(payloads: object, partitions: int) -> bytes:
    """Each payload's partition as int64s: crc32 of its plain order_id mod partitions, or -1
    where partitions.route must say."""
