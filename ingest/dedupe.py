"""First accepted version wins: every order id remembered as a fingerprint, in a flat table
sized by the orders it holds, whole batches at a time.

A fingerprint is a keyed 128-bit hash of the id's bytes (MurmurHash3's x64 128-bit rounds, in
numpy, with a random key kept in the store, so nobody outside can aim a collision at an id).
The table is open addressing with linear probing in one uint64 array: the top bits of the first
half choose a slot, and a slot keeps 44 bits of the second half, the next 8 bits of the first
and its distance from home in 12 bits (at most 4,095: at 80 % full, runs of a few hundred slots
do occur among 100 million orders, and a limit of 255 made a whole day's table double at its
end). With the slot's position that verifies 72-79 bits of the fingerprint: a false duplicate
among 200 million orders is ~10^-6 likely, for 8 bytes a slot (~10 bytes a remembered order at
80 % full). The keys themselves live in the history files; the worker keeps its tables as mapped
files beside the store (ingest/generations.py) and rebuilds them from the history only when those
cannot be trusted. A table keeps a checksum of its slots as they change (slot_checksum), so a start
can tell slots changed on disk from the slots the store committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from common.logs import log_event

log = logging.getLogger("gmv.dedupe")
MAX_LOAD = 0.8
MIN_SLOTS_LOG2 = 16
_DISPLACEMENT = 4095
_DISPLACEMENT_BITS = 12
_SPARE = 8  # bits of the first half kept beyond the home: the table can double 8 times
_U = np.uint64
_TAG = _U(0xFFFF_FFFF_FFF0_0000)  # the second half's 44 bits a slot keeps
_C1, _C2 = _U(0x87C37B91114253D5), _U(0x4CF5AD432745937F)
_MASK64 = (1 << 64) - 1
_CHECKSUM_CHUNK = 1 << 20


def slot_checksum(slots: np.ndarray, values: np.ndarray) -> int:
    """Sum of value x (2 x slot + 1) mod 2^64 (an empty slot adds 0): any one byte changed in a
    slot changes it (the weight is odd), and so does a value moved to another slot."""
    weights = slots.astype(_U) * _U(2) + _U(1)
    return int(np.sum(values.astype(_U, copy=False) * weights, dtype=_U))


def table_checksum(table: np.ndarray) -> int:
    """slot_checksum over every slot of `table`, a chunk at a time (no table-sized temporary)."""
    weights = np.arange(min(len(table), _CHECKSUM_CHUNK), dtype=_U) * _U(2) + _U(1)
    total = 0
    for start in range(0, len(table), _CHECKSUM_CHUNK):
        chunk = table[start:start + _CHECKSUM_CHUNK]
        # sum of v x (2 (start + j) + 1) = sum of v x (2j + 1) + 2 start x sum of v
        total += int(np.dot(chunk, weights[:len(chunk)])) + 2 * start * int(np.sum(chunk, dtype=_U))
    return total & _MASK64


def slots_log2_for(orders: int) -> int:
    """The table's size (log2 of its slots) that holds `orders` at most MAX_LOAD full."""
    return max(MIN_SLOTS_LOG2, int(np.ceil(np.log2(max(orders, 1) / MAX_LOAD))))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << _U(r)) | (x >> _U(64 - r))


def _fmix(k: np.ndarray) -> np.ndarray:
    k = k ^ (k >> _U(33))
    k = k * _U(0xFF51AFD7ED558CCD)
    k = k ^ (k >> _U(33))
    k = k * _U(0xC4CEB9FE1A85EC53)
    return k ^ (k >> _U(33))


def _padded_words(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each id's bytes zero-padded to a multiple of 16, as rows of little-endian uint64."""
    n, longest = len(lengths), int(lengths.max())
    width = max(16, -(-longest // 16) * 16)
    padded = np.zeros((n, width), np.uint8)
    if longest == int(lengths.min()):  # ids of one length (most producers'): a reshape
        padded[:, :longest] = data[offsets[0]:offsets[0] + n * longest].reshape(n, longest)
    else:
        rows = np.repeat(np.arange(n) * width - offsets[:-1], lengths)
        source = np.arange(offsets[0], offsets[-1])
        padded.reshape(-1)[rows + source] = data[source]
    return padded.view("<u8")


def fingerprints(ids: pa.Array | pa.ChunkedArray, key: tuple[int, int]) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """(first half, second half) of each id's keyed 128-bit hash, as two uint64 arrays."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if ids.type != pa.string():
        ids = ids.cast(pa.string())  # views (the decoder's) into one contiguous buffer
    n = len(ids)
    if n == 0:
        return np.empty(0, _U), np.empty(0, _U)
    offsets = np.frombuffer(ids.buffers()[1], np.int32, n + 1, ids.offset * 4).astype(np.int64)
    data = np.frombuffer(ids.buffers()[2], np.uint8)
    lengths = np.diff(offsets)
    words = _padded_words(data, offsets, lengths)
    h1 = np.full(n, key[0], _U)
    h2 = np.full(n, key[1], _U)
    with np.errstate(over="ignore"):
        blocks = np.maximum(-(-lengths // 16), 1)  # an id's own 16-byte blocks, no more
        for block in range(0, words.shape[1], 2):
            k1 = _rotl(words[:, block] * _C1, 31) * _C2
            n1 = (_rotl(h1 ^ k1, 27) + h2) * _U(5) + _U(0x52DCE729)
            k2 = _rotl(words[:, block + 1] * _C2, 33) * _C1
            n2 = (_rotl(h2 ^ k2, 31) + n1) * _U(5) + _U(0x38495AB5)
            if block // 2 < blocks.min():
                h1, h2 = n1, n2
            else:
                inside = block // 2 < blocks
                h1, h2 = np.where(inside, n1, h1), np.where(inside, n2, h2)
        h1 ^= lengths.astype(_U)
        h2 ^= lengths.astype(_U)
        h1 += h2
        h2 += h1
        h1, h2 = _fmix(h1), _fmix(h2)
        h1 += h2
        h2 += h1
    return h1, h2


class SeenOrders:
    """The fingerprints of every accepted order within the horizon."""

    def __init__(self, expected_orders: int, table: np.ndarray | None = None,
                 spare_bits: int = _SPARE, count: int = 0, checksum: int = 0) -> None:
        """`table`: slots kept elsewhere (a mapped file, whose length is a power of two), that
        hold `count` orders and sum to `checksum`; None: slots of its own, sized for
        `expected_orders`."""
        # Told the slots about to change and what that adds to the checksum, before they change
        # (the undo journal's records): slots filled, or emptied again by a full run's undo.
        self.before_fill: Callable[[np.ndarray, int], None] | None = None
        self.checksum = checksum
        self.mapped = table is not None  # a file's slots: never moved to memory of its own
        if table is None:
            self._allocate(slots_log2_for(expected_orders), spare_bits=_SPARE)
        else:
            self.table, self.spare_bits = table, spare_bits
            self.slots_log2 = len(table).bit_length() - 1
        self.count = count

    def _allocate(self, slots_log2: int, spare_bits: int) -> None:
        self.slots_log2, self.spare_bits = slots_log2, spare_bits
        self.table = np.zeros(1 << slots_log2, _U)
        self.checksum = 0

    def _changed(self, slots: np.ndarray, values: np.ndarray | np.uint64, delta: int) -> None:
        """`slots` set to `values`, which adds `delta` to the checksum (told first)."""
        if self.before_fill is not None:
            self.before_fill(slots, delta)
        self.table[slots] = values
        self.checksum = (self.checksum + delta) & _MASK64

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)

    def _home_and_tag(self, h1: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        home = (h1 >> _U(64 - self.slots_log2)).astype(np.int64)
        full = (1 << _SPARE) - 1
        spare = (h1 >> _U(64 - _SPARE - self.slots_log2)) & _U(
            (full << (_SPARE - self.spare_bits)) & full)
        tag = (h2 & _TAG) | (spare << _U(_DISPLACEMENT_BITS))
        return home, tag

    def contains(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Which of these fingerprints are remembered; nothing changes."""
        home, tag = self._home_and_tag(h1, h2)
        found = np.zeros(len(h1), bool)
        pending = np.arange(len(h1))
        distance = 0
        mask = len(self.table) - 1
        while len(pending) and distance <= _DISPLACEMENT:
            value = self.table[(home[pending] + distance) & mask]
            hit = value == (tag[pending] | _U(distance))
            found[pending[hit]] = True
            pending = pending[~hit & (value != 0)]
            distance += 1
        return found

    def try_first_seen(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray | None:
        """first_seen without growing: None (and nothing changed) when the table is too full."""
        if self.count + len(h1) > MAX_LOAD * len(self.table):
            return None
        new = self._insert(h1, h2)
        if new is not None:
            self.count += int(new.sum())
        return new

    def first_seen(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Which of these fingerprints (of distinct ids, in stream order) were never seen; they
        are remembered from now on. An earlier one in the batch wins a tie."""
        if self.count + len(h1) > MAX_LOAD * len(self.table):
            self._grow(self.count + len(h1))
        while True:
            new = self._insert(h1, h2)
            if new is not None:
                self.count += int(new.sum())
                return new
            self._grow(self.count + len(h1))  # a run of 4,095 full slots: more room

    def _insert(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray | None:
        home, tag = self._home_and_tag(h1, h2)
        new = np.zeros(len(h1), bool)
        pending = np.arange(len(h1))
        distance = np.zeros(len(h1), np.int64)
        mask = len(self.table) - 1
        taken: list[tuple[np.ndarray, int]] = []
        while len(pending):
            slot = (home[pending] + distance[pending]) & mask
            value = self.table[slot]
            mine = tag[pending] | distance[pending].astype(_U)
            empty = value == 0
            # Of the keys that reach the same empty slot, the first in the batch takes it; the
            # others look at it again next round (it may now hold their own fingerprint).
            claim = np.flatnonzero(empty)
            _, first = np.unique(slot[claim], return_index=True)
            winners = claim[first]
            if len(winners):
                filled = slot[winners]
                delta = slot_checksum(filled, mine[winners])
                self._changed(filled, mine[winners], delta)
                taken.append((filled, delta))
            new[pending[winners]] = True
            settled = value == mine
            settled[winners] = True
            moved = pending[~settled & ~empty]
            distance[moved] += 1
            if len(moved) and distance[moved].max() > _DISPLACEMENT:
                for slots, delta in taken:  # as it was: those slots were empty before this call
                    self._changed(slots, _U(0), -delta & _MASK64)
                return None
            pending = pending[~settled]
        return new

    def _grow(self, needed: int) -> None:
        """Twice the slots, rebuilt from what the slots keep: one of the spare bits of each
        fingerprint becomes a bit of its home."""
        if self.spare_bits == 0 or self.mapped:
            raise MemoryError("the order table cannot grow further; set GMV_DEDUPE_ORDERS higher")
        old, old_log2, old_spare = self.table, self.slots_log2, self.spare_bits
        occupied = np.flatnonzero(old)
        values = old[occupied]
        home = (occupied - (values & _U(_DISPLACEMENT)).astype(np.int64)) & ((1 << old_log2) - 1)
        spare = (values >> _U(_DISPLACEMENT_BITS)) & _U((1 << _SPARE) - 1)
        h2 = values & _TAG
        # Rebuild h1's known top bits: the home, then the spare bits.
        h1 = (home.astype(_U) << _U(64 - old_log2)) | (spare << _U(64 - _SPARE - old_log2))
        del old
        self._allocate(old_log2 + 1, old_spare - 1)
        kept = self._insert(h1, h2)
        if kept is None:
            self._grow(needed)
            return
        self.count = int(kept.sum())
        log_event(log, "dedupe_table_grown", slots=len(self.table), orders=self.count,
                  needed=needed, mib=self.nbytes >> 20)
