"""Crashes on purpose, for the fault tests only: with GMV_FAULT_AT=<step>:<n> the worker kills
itself (SIGKILL, no clean-up) the n-th time it reaches the named step of its exactly-once path,
so a test can land a crash exactly there whatever the machine's speed; at a Redis-away step,
Redis goes away instead (a connection error, as a restarted node makes), and it carries on.
Unset, it costs nothing."""

from __future__ import annotations

import logging
import os
import signal

import redis

from common.logs import log_line

log = logging.getLogger("gmv.faults")
# The steps of a batch's path, in order; each leaves a different state behind.
STEPS = (
    "after_dead_letters",   # a batch's rejected entries dead-lettered, nothing committed
    "after_dedupe_table",   # the dedupe table's files took a batch's keys, nothing committed
    "after_part",           # the checkpoint's orders written as a part that no commit names yet
    "after_commit",         # committed with the position; the manifest, summary, snapshot not told
    "after_compaction_write",   # compacted files written that no commit names yet
    "after_compaction_commit",  # a commit names them; the files they replace are still there
)
# Steps a small night does not reach by itself (a test brings it there: many hours of arrivals).
RARE_STEPS = (
    "inside_generation_drop",  # the headers name the generations kept; the dropped file is there
)
# Redis goes away there (a connection error, as a blip makes): the worker handles it as a crash
# (crash-only) in the same process; the combiner re-reads every file.
REDIS_AWAY_STEPS = (
    "combine_after_apply",  # a partition's checkpoint is in the combined state, its detectors not
    "redis_away_in_commit",  # a checkpoint taken out of the worker's hands, not yet committed
    "redis_away_after_read",  # entries read and queued, not yet judged
)


class FaultPlan:
    def __init__(self, spec: str) -> None:
        self.step: str | None = None
        self.at = 0
        if spec:
            self.step, self.at = parse_fault(spec)
        self.hits = 0

    def reached(self, step: str) -> None:
        if step != self.step:
            return
        self.hits += 1
        if self.hits == self.at:
            log_line(log, logging.WARNING, "fault_injected", step=step, hit=self.hits)
            if step in REDIS_AWAY_STEPS:
                raise redis.ConnectionError(f"fault injected at {step}")
            os.kill(os.getpid(), signal.SIGKILL)


def parse_fault(spec: str) -> tuple[str, int]:
    step, _, count = spec.partition(":")
    if step not in STEPS + RARE_STEPS + REDIS_AWAY_STEPS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"GMV_FAULT_AT={spec!r} is not <step>:<n> with a step of "
                         f"{', '.join(STEPS + RARE_STEPS + REDIS_AWAY_STEPS)} and n >= 1")
    return step, int(count)
