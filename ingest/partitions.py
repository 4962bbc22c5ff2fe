"""The partitions of the order stream (shared/contract.md, "Partitions"): which partition an
order goes to, and which partitions a worker owns. Their keys and folders: common/settings.py."""

from __future__ import annotations

import json
import re
import zlib

_CANONICAL_ID = re.compile(rb'"order_id":"([^"\\]*)"')


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
