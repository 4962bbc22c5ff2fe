"""Where the worker's time goes, stage by stage (read, decode, dedupe, aggregate, part, commit,
detect, publish): said when it goes idle and when it stops, for the benchmarks and the curious."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("read", "decode", "dedupe", "aggregate", "part", "commit", "detect", "publish")


class Stages:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def said(self) -> str:
        """'read:1.20,decode:3.40,...' in seconds."""
        return ",".join(f"{s}:{self.seconds[s]:.2f}" for s in STAGES)
