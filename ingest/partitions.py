"""The partitions of the order stream (shared/contract.md, "Partitions"): which partition an
order goes to, and which partitions a worker owns. Their keys and folders: common/settings.py."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from operator import itemgetter

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

try:
    from ingest import _resp
except ImportError:  # not built (no compiler at install): routed in numpy
    _resp = None  # type: ignore[assignment]

_CANONICAL_ID = re.compile(rb'"order_id":"([^"\\]*)"')
_NAME = np.frombuffer(b'"order_id"', np.uint8)
_QUOTE, _BACKSLASH, _COLON = ord('"'), ord("\\"), ord(":")
_UNDERSCORE = 6  # of the name
MAX_FAST_ID = 39  # a longer id (the contract allows 64 characters) takes the slow path
_WINDOW = MAX_FAST_ID + 1
_PADDING = b"\n" * (_WINDOW + len(_NAME) + 2)  # a window past the last payload stays inside


def _crc_entry(byte: int) -> int:
    for _ in range(8):
        byte = (byte >> 1) ^ 0xEDB88320 if byte & 1 else byte >> 1  # zlib's reflected polynomial
    return byte


_CRC_TABLE = np.array([_crc_entry(b) for b in range(256)], np.uint32)


def partition_of(order_id: str, partitions: int) -> int:
    """crc32 of the id's UTF-8 bytes, mod P: every copy of one order meets in one partition."""
    return zlib.crc32(order_id.encode("utf-8", "surrogatepass")) % partitions


def route(payload: bytes, partitions: int) -> int:
    """The partition of a payload: its order_id's; a payload without a readable string id is
    malformed (any partition judges it the same) and goes by the crc32 of its bytes."""
    if partitions == 1:
        return 0
    if (found := _CANONICAL_ID.search(payload)) is not None and payload.count(b'"order_id"') == 1:
        return zlib.crc32(found[1]) % partitions
    try:
        order_id = json.loads(payload).get("order_id")
    except (ValueError, AttributeError, RecursionError):
        order_id = None
    if isinstance(order_id, str):
        return partition_of(order_id, partitions)
    return zlib.crc32(payload) % partitions


def routes(payloads: Sequence[bytes], partitions: int) -> np.ndarray:
    """The partition of each payload, exactly as `route` says, for a batch at a fraction of its
    cost: where `route`'s regex would find the id (the name once, then `:"`, then the id up to a
    quote, no backslash), its crc32 is taken in C (ingest/_resp.c, ~0.3 µs a payload), or in
    numpy where the extension was not built; every other payload takes `route` itself."""
    count = len(payloads)
    if partitions == 1 or not count:
        return np.zeros(count, np.int64)
    if _resp is None:
        return routes_in_numpy(payloads, partitions)
    result = np.frombuffer(_resp.routes(payloads, partitions), np.int64).copy()
    slow = np.flatnonzero(result < 0).tolist()
    result[slow] = [route(payloads[i], partitions) for i in slow]
    return result


def routes_in_numpy(payloads: Sequence[bytes], partitions: int) -> np.ndarray:
    """`routes` without the compiled extension: the id's span found over the joined payloads
    (ids of at most MAX_FAST_ID bytes; longer ones take `route`)."""
    count = len(payloads)
    if partitions == 1 or not count:
        return np.zeros(count, np.int64)
    # A newline apart (no name spans one), and a window's width of padding at the end.
    joined = np.frombuffer(b"\n".join([*payloads, _PADDING]), np.uint8)
    lengths = np.fromiter(map(len, payloads), np.int64, count)
    starts = np.zeros(count, np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    names = _name_starts(joined)
    owner = np.searchsorted(starts, names, side="right") - 1
    once = np.bincount(owner, minlength=count)[owner] == 1  # overlapping ones count: slow
    names, owner = names[once], owner[once]
    value = names + len(_NAME) + 2
    window = sliding_window_view(joined, _WINDOW)[value]  # rows gathered, not an index matrix
    stop = (window == _QUOTE) | (window == _BACKSLASH)
    first = stop.argmax(axis=1)
    after = value + first
    fast = ((joined[names + len(_NAME)] == _COLON) & (joined[value - 1] == _QUOTE)
            & stop.any(axis=1) & (window[np.arange(len(first)), first] == _QUOTE)
            & (after < starts[owner] + lengths[owner]))
    result = np.full(count, -1, np.int64)
    result[owner[fast]] = _crc32(window[fast], first[fast]) % partitions
    slow = np.flatnonzero(result < 0).tolist()
    result[slow] = [route(payloads[i], partitions) for i in slow]
    return result


def _crc32(rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """zlib.crc32 of each row's first `lengths` bytes, a column at a time (table-driven)."""
    crc = np.full(len(rows), 0xFFFFFFFF, np.uint32)
    for k in range(int(lengths.max(initial=0))):
        step = _CRC_TABLE[(crc ^ rows[:, k]) & 0xFF] ^ (crc >> 8)
        crc = np.where(k < lengths, step, crc)
    return (crc ^ 0xFFFFFFFF).astype(np.int64)


def _name_starts(joined: np.ndarray) -> np.ndarray:
    """Where `"order_id"` starts in the bytes, overlapping occurrences included (found from its
    underscore, a rarer byte than its quotes, then checked whole in one gather)."""
    found = np.flatnonzero(joined == _NAME[_UNDERSCORE]) - _UNDERSCORE
    found = found[(found >= 0) & (found <= len(joined) - len(_NAME))]
    return found[(sliding_window_view(joined, len(_NAME))[found] == _NAME).all(axis=1)]


def split_by_partition(payloads: Sequence[bytes], partitions: int) -> list[Sequence[bytes]]:
    """The payloads of each partition, in their order."""
    where = routes(payloads, partitions)
    return [_gathered(payloads, np.flatnonzero(where == p).tolist()) for p in range(partitions)]


def _gathered(payloads: Sequence[bytes], indices: list[int]) -> Sequence[bytes]:
    """The payloads at `indices`, gathered in C (itemgetter), not a Python loop."""
    if len(indices) < 2:
        return [payloads[i] for i in indices]
    return itemgetter(*indices)(payloads)


def parse_owned(text: str, partitions: int) -> list[int]:
    """`--partitions 0,2,4` or `--worker i/N` (worker i of N owns every N-th partition from i)."""
    text = text.strip()
    if "/" in text:
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
            raise ValueError(f"{text!r} is not i/N with 0 <= i < N")
        owned = list(range(int(index), partitions, int(count)))
    else:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise ValueError(f"{text!r} is not a list of partition numbers like 0,2,4")
        owned = sorted({int(p) for p in parts})
    if not owned or owned[-1] >= partitions:
        raise ValueError(f"{text!r} names no partition of 0..{partitions - 1} "
                         f"(GMV_PARTITIONS={partitions})")
    return owned
