"""Publishing a recorded night: verbatim, at its own pace or as fast as possible, optionally retimed."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from common.logs import Progress, log_event
from common.prefetch import prefetched
from common.settings import Settings
from rehearsal.pace import Pacer, publish_paced
from rehearsal.publish import inventory_publisher, publisher_for
from rehearsal.recordings import read_jsonl, read_recording, sidecar

log = logging.getLogger("gmv.replay")
_TS = re.compile(rb'"ts"\s*:\s*(-?\d{1,19})(?=[\s,}])')


@dataclass(frozen=True)
class ReplayResult:
    published: int
    inventory: int
    elapsed_s: float

    @property
    def rate_per_s(self) -> float:
        return self.published / max(self.elapsed_s, 1e-9)


def event_times_ms(payloads: list[bytes]) -> np.ndarray:
    """Each payload's `ts` where one can be read, else the one before it (malformed lines)."""
    times = np.empty(len(payloads), dtype=np.int64)
    last = 0
    for i, payload in enumerate(payloads):
        found = _TS.search(payload)
        last = int(found[1]) if found else last
        times[i] = last
    readable = np.flatnonzero(times > 0)
    if len(readable):
        times[: readable[0]] = times[readable[0]]
    return times


def retimed(payloads: list[bytes], offset_ms: int) -> list[bytes]:
    """Event times shifted by `offset_ms`; everything else byte for byte as it was."""
    def shift(match: re.Match[bytes]) -> bytes:
        return match[0].replace(match[1], str(int(match[1]) + offset_ms).encode())
    return [_TS.sub(shift, payload, count=1) for payload in payloads]


def first_event_ms(path: Path) -> int | None:
    for payloads in read_recording(path):
        for payload in payloads:
            if found := _TS.search(payload):
                return int(found[1])
    return None


def _batches(path: Path, offset_ms: int | None) -> Iterator[list[bytes]]:
    for payloads in read_recording(path):
        yield retimed(payloads, offset_ms) if offset_ms else payloads


def replay(path: Path, client: redis.Redis, settings: Settings, speed: float | None,
           retime: bool) -> ReplayResult:
    """Publish `path` (and its inventory sidecar, first) to the configured streams."""
    if not path.exists():
        raise FileNotFoundError(f"no such recording: {path}")
    offset_ms = None
    if retime:
        first = first_event_ms(path)
        offset_ms = int(time.time() * 1000) - first if first is not None else None
    inventory = _replay_inventory(path, client, settings, offset_ms)
    publisher = publisher_for(client, settings)
    pacer = Pacer(speed) if speed else None
    progress = Progress(log, "published")
    log_event(log, "replay_started", file=path, stream=settings.orders_stream,
              speed=speed or "max", retime_offset_ms=offset_ms or 0)
    for payloads in prefetched(_batches(path, offset_ms)):
        times = event_times_ms(payloads) if pacer else np.empty(0, np.int64)
        if pacer:
            times = np.maximum.accumulate(times)  # a late event does not pull the clock back
        publish_paced(publisher, payloads, times, pacer)
        progress.advance(len(payloads))
    result = ReplayResult(publisher.published, inventory, progress.elapsed_s)
    log_event(log, "replay_finished", published=result.published, inventory=inventory,
              seconds=result.elapsed_s, rate_per_s=int(result.rate_per_s))
    return result


def _replay_inventory(path: Path, client: redis.Redis, settings: Settings,
                      offset_ms: int | None) -> int:
    stock_file = sidecar(path, "inventory.jsonl")
    if not stock_file.exists():
        return 0
    publisher = inventory_publisher(client, settings)
    for payloads in read_jsonl(stock_file):
        publisher.publish(retimed(payloads, offset_ms) if offset_ms else payloads)
    return publisher.published
