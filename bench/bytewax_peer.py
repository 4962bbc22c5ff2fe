"""The peer for bench/drain.py: the same per-second GMV / orders / device job as a Bytewax
dataflow reading the same stream. Idiomatic Bytewax: one Python event per order (json.loads,
exact Decimal money), keyed by device, 1 s tumbling event-time windows folded into sums."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import bytewax.operators as op
import redis
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.operators import windowing as win
from bytewax.operators.windowing import EventClock, TumblingWindower
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from ingest.contract import DEVICES

BATCH = 10_000
# How long a window waits for late events. Longer keeps more windows open, and Bytewax then
# slows with every open window; 30 s covers the ordinary late arrivals of a night.
WAIT_S = 30


class _StreamPartition(StatefulSourcePartition[bytes, str]):
    def __init__(self, url: str, stream: str, resume: str | None) -> None:
        self.client = redis.Redis.from_url(url, protocol=2)
        self.client.response_callbacks.pop("XRANGE", None)
        self.stream, self.last = stream, resume or "-"
        self.end = self.client.xinfo_stream(stream)["last-generated-id"]

    def next_batch(self) -> list[bytes]:
        start = self.last if self.last == "-" else f"({self.last}"
        entries = self.client.execute_command("XRANGE", self.stream, start, self.end,
                                              "COUNT", BATCH)
        if not entries:
            raise StopIteration
        self.last = entries[-1][0].decode()
        return [fields[1] for _, fields in entries]

    def snapshot(self) -> str:
        return self.last


class StreamSource(FixedPartitionedSource[bytes, str]):
    def __init__(self, url: str, stream: str) -> None:
        self.url, self.stream = url, stream

    def list_parts(self) -> list[str]:
        return ["0"]

    def build_part(self, step_id: str, for_part: str, resume: str | None) -> _StreamPartition:
        return _StreamPartition(self.url, self.stream, resume)


class _Count(StatelessSinkPartition[object]):
    def __init__(self, results: list[object]) -> None:
        self.results = results

    def write_batch(self, items: list[object]) -> None:
        self.results.extend(items)


class CollectSink(DynamicSink[object]):
    def __init__(self, results: list[object]) -> None:
        self.results = results

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Count:
        return _Count(self.results)


def _orders(payloads: list[bytes]) -> Iterable[tuple[str, tuple[int, int]]]:
    for payload in payloads:
        try:
            body = json.loads(payload, parse_float=Decimal)
            cents = int(Decimal(str(body["amount"])) * 100)
            if body["device"] in DEVICES and isinstance(body["ts"], int):
                yield body["device"], (body["ts"], cents)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, ArithmeticError):
            continue


def run(url: str, stream: str) -> list[object]:
    flow = Dataflow("gmv_per_second")
    payloads = op.input("stream", flow, StreamSource(url, stream))
    keyed = op.flat_map_batch("decode", payloads, lambda batch: list(_orders(batch)))
    clock = EventClock(lambda event: datetime.fromtimestamp(event[0] / 1000, UTC),
                       wait_for_system_duration=timedelta(seconds=WAIT_S))
    windower = TumblingWindower(length=timedelta(seconds=1),
                                align_to=datetime(2026, 1, 1, tzinfo=UTC))
    windows = win.fold_window("per_second", keyed, clock, windower, lambda: (0, 0),
                              lambda acc, event: (acc[0] + event[1], acc[1] + 1),
                              lambda a, b: (a[0] + b[0], a[1] + b[1]))
    results: list[object] = []
    op.output("out", windows.down, CollectSink(results))
    run_main(flow)
    return results
