"""The committed sample night and what the contract's reference judge says of it."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path

from ingest.contract import Fate, Verdict, judge
from rehearsal.recordings import read_recording

SAMPLE = Path(__file__).parents[1] / "sample_data" / "night-2026-11-11.jsonl.gz"
STOCK = SAMPLE.with_name("night-2026-11-11.inventory.jsonl")
LABELS = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())
TRUTH = LABELS["truth"]


@functools.cache
def sample_payloads() -> tuple[bytes, ...]:
    return tuple(p for batch in read_recording(SAMPLE) for p in batch)


@functools.cache
def reference_verdicts() -> tuple[Verdict, ...]:
    """The contract's reference fate of each of the sample's payloads, in order: the slow judge
    (1.6 s), run once a process for every test that asks."""
    return tuple(judge(sample_payloads(), set()))


@functools.cache
def reference_per_second() -> Counter[int]:
    """Accepted orders per event-time second, by the reference fates."""
    return Counter(v.order.ts_ms // 1000 for v in reference_verdicts()
                   if v.fate is Fate.ACCEPTED and v.order)


def reference_peak() -> tuple[int, int]:
    """(peak orders/s, its earliest second in epoch ms): the contract's peak_ops and peak_second."""
    counts = reference_per_second()
    peak = max(counts.values())
    return peak, min(s for s, n in counts.items() if n == peak) * 1000


@functools.cache
def reference_rejected() -> Counter[bytes]:
    """The payloads the reference judge rejects, as a multiset."""
    return Counter(p for p, v in zip(sample_payloads(), reference_verdicts(), strict=True)
                   if v.fate is Fate.REJECTED)
