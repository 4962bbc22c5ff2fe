"""A batch's payloads as one byte buffer, with the positions of its quotes: what the decoder's
fast path reads, eight bytes at a time (built in the reader's thread, while the worker's thread
judges the batch before)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest.contract import MAX_AMOUNT_CENTS

_QUOTE, _DOT, _ZERO, _BACKSLASH = 34, 46, 48, 92
_ALL, _ZEROS = np.uint64(2**64 - 1), np.uint64(0x3030303030303030)
_HIGH_NIBBLES, _SIXES = np.uint64(0xF0F0F0F0F0F0F0F0), np.uint64(0x0606060606060606)


class Payloads:
    """A batch's payloads as one byte buffer, readable eight bytes at any position, with the
    positions of its quotes."""

    def __init__(self, joined: bytes, offsets: np.ndarray) -> None:
        """`joined`: the payloads one after the other, then eight bytes more (so that eight
        can be read at the last position); payload i is joined[offsets[i]:offsets[i + 1]]."""
        self.buf = np.frombuffer(joined, np.uint8)
        self.offsets = offsets
        self.words = np.ndarray((len(self.buf) - 7,), dtype="<u8", buffer=self.buf, strides=(1,))
        self.quotes = np.flatnonzero(self.buf == _QUOTE)
        self.first_quote = np.searchsorted(self.quotes, self.offsets[:-1])
        self.quote_count = np.searchsorted(self.quotes, self.offsets[1:]) - self.first_quote

    def clean(self) -> np.ndarray:
        """Rows with no control character, DEL, non-ASCII byte or backslash (no escapes)."""
        odd = np.subtract(self.buf[:-8], 32, dtype=np.uint8) > 94
        odd |= self.buf[:-8] == _BACKSLASH
        at = np.flatnonzero(odd)
        return np.searchsorted(at, self.offsets[:-1]) == np.searchsorted(at, self.offsets[1:])

    def quote_run(self, rows: np.ndarray, first: int, count: int) -> np.ndarray:
        """The positions of quotes first..first+count-1 of each row, as a matrix."""
        return self.quotes[self.first_quote[rows][:, None] + np.arange(first, first + count)]

    def equals(self, at: np.ndarray, text: bytes) -> np.ndarray:
        """Whether the bytes at `at` are `text`, eight at a time."""
        ok = np.ones(len(at), bool)
        for k in range(0, len(text), 8):
            chunk = text[k:k + 8]
            mask = np.uint64((1 << (8 * len(chunk))) - 1)
            word = self.words[np.minimum(at + k, len(self.words) - 1)]
            ok &= (word & mask) == np.uint64(int.from_bytes(chunk, "little"))
        return ok

    def digits(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 0-8 ASCII digits in [start, end) as a number, read as one eight-byte word
        (SWAR), and whether they are all digits."""
        length = np.clip(end - start, 0, 8)
        word = self.words[np.maximum(end - 8, 0)]
        # The bytes before the number (the low ones: little-endian) read as '0'.
        low = (8 * (8 - length)).astype(np.uint64)
        before = np.where(low >= 64, _ALL, (np.uint64(1) << np.minimum(low, 63)) - np.uint64(1))
        word = (word & ~before) | (_ZEROS & before)
        ok = (end - start <= 8) & ((word & _HIGH_NIBBLES) == _ZEROS) & (
            ((word + _SIXES) & _HIGH_NIBBLES) == _ZEROS)
        value = word - _ZEROS
        value = (value * np.uint64(10) + (value >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        value = (value * np.uint64(100) + (value >> np.uint64(16))) & np.uint64(
            0x0000FFFF0000FFFF)
        value = value * np.uint64(10000) + (value >> np.uint64(32))
        return (value & np.uint64(0xFFFFFFFF)).astype(np.int64), ok

    def integer(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A JSON integer of 1-16 digits in [start, end), no leading zero; its value."""
        split = np.maximum(end - 8, start)  # the last eight digits, and those before them
        low, ok = self.digits(split, end)
        if (split > start).any():
            high, fine = self.digits(start, split)
            ok &= fine
        else:  # all eight digits or fewer (quantities)
            high = np.zeros(len(start), np.int64)
        ok &= (end - start >= 1) & (end - start <= 16)
        ok &= (self.buf[start] != _ZERO) | (end - start == 1)
        return high * 100_000_000 + low, ok

    def cents(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """'129.90', '129.9' or '129' (1-8 whole digits) in integer cents, in (0, max]."""
        two = self.buf[np.maximum(end - 3, 0)] == _DOT
        one = ~two & (self.buf[np.maximum(end - 2, 0)] == _DOT)
        whole_end = end - np.where(two, 3, np.where(one, 2, 0))
        whole, ok = self.digits(start, whole_end)
        ok &= whole_end > start
        tenth = self.buf[end - np.where(two, 2, 1)].astype(np.int64) - _ZERO
        hundredth = self.buf[end - 1].astype(np.int64) - _ZERO
        ok &= ~(two | one) | ((tenth >= 0) & (tenth <= 9))
        ok &= ~two | ((hundredth >= 0) & (hundredth <= 9))
        cents = whole * 100 + np.where(two, tenth * 10 + hundredth, np.where(one, tenth * 10, 0))
        return cents, ok & (cents > 0) & (cents <= MAX_AMOUNT_CENTS)

    def strings(self, starts: list[np.ndarray], ends: list[np.ndarray]) -> list[pa.Array]:
        """Columns of spans [start, end) as Arrow string_view arrays over this buffer, built all
        at once: sixteen bytes a value (length and prefix, then the rest inline or the offset)."""
        n = len(starts[0])
        start, end = np.concatenate(starts), np.concatenate(ends)
        length = (end - start).astype(np.uint64)
        head = self.words[start] & np.where(
            length >= 8, _ALL, (np.uint64(1) << (8 * np.minimum(length, 7))) - np.uint64(1))
        tail = self.words[np.minimum(start + 8, len(self.words) - 1)] & ((np.uint64(1) << (
            8 * np.clip(length.astype(np.int64) - 8, 0, 4)).astype(np.uint64)) - np.uint64(1))
        views = np.empty((len(start), 2), np.uint64)
        views[:, 0] = length | (head << np.uint64(32))
        views[:, 1] = np.where(length <= 12, (head >> np.uint64(32)) | (tail << np.uint64(32)),
                               start.astype(np.uint64) << np.uint64(32))  # buffer 0, offset
        data = pa.py_buffer(self.buf)
        return [pa.Array.from_buffers(pa.string_view(), n, [
            None, pa.py_buffer(views[k * n:(k + 1) * n]), data]) for k in range(len(starts))]
