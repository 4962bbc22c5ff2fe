"""Where the demo's night stands (`DATA/demo-night.json`), so that a second `gmv demo` on the same
data dir continues the night where the first stopped instead of replaying it from 23:59: a replay
is all re-sends, which the worker rightly counts as duplicates while every screen stands still.

The record holds the night's plan and how far it was published (a chunk boundary: the next run
draws from there, under order ids of its own), and the runs, each with its wall time and the
night second it began at; the dashboard reads the last run to tell the screens that the night
was continued (common/demo_record.py)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from common.atomic import atomic_path
from common.demo_record import CONTINUED, NEW, OVER, RECORD
from rehearsal.simulate import NightPlan


@dataclass
class DemoNight:
    seed: int
    peak_ops: int
    festival_day: str
    start_s: int
    duration_s: int
    published_to_s: int  # every night second before it was drawn and published
    runs: list[dict[str, Any]] = field(default_factory=list)  # {"mode", "from_s", "wall_ms"}
    # A run stopped mid-chunk: the arrival time (epoch ms) before which the chunk from
    # `published_to_s` was published; the next run sends that chunk's rest only.
    published_ms: int | None = None

    @classmethod
    def of(cls, plan: NightPlan) -> DemoNight:
        return cls(plan.seed, plan.peak_ops, plan.festival_day.isoformat(), plan.start_s,
                   plan.duration_s, plan.start_s)

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s

    def plan_for(self, plan: NightPlan) -> NightPlan:
        """`plan` (its incidents) as this night: from where it was published up to."""
        return NightPlan(seed=self.seed, peak_ops=self.peak_ops,
                         festival_day=date.fromisoformat(self.festival_day),
                         start_s=self.start_s, duration_s=self.duration_s,
                         incidents=plan.incidents, resume_s=self.published_to_s,
                         resume_from_ms=self.published_ms)


def read_record(data_dir: Path) -> DemoNight | None:
    """The data dir's record, or None (none yet, or one this version cannot read: a new night)."""
    try:
        raw = json.loads((Path(data_dir) / RECORD).read_text())
        return DemoNight(**{k: raw[k] for k in DemoNight.__dataclass_fields__ if k in raw})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(data_dir: Path, night: DemoNight) -> None:
    path = Path(data_dir) / RECORD
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(night), indent=1) + "\n")


def tonight(data_dir: Path, asked: NightPlan, wall_ms: int) -> tuple[str, DemoNight, NightPlan]:
    """Which night this run publishes: the data dir's night, continued where it stopped (with
    the plan it began with, whatever `asked` says of seed and peak: another seed would pile a
    second night onto the first's totals), or a new one; OVER when its night is all published."""
    night = read_record(data_dir)
    if night is None or night.published_to_s <= night.start_s:
        night = DemoNight.of(asked)
        mode, plan = NEW, asked
    elif night.published_to_s >= night.end_s:
        return OVER, night, night.plan_for(asked)
    else:
        mode, plan = CONTINUED, night.plan_for(asked)
    night.runs = [*night.runs[-9:], {"mode": mode, "from_s": plan.first_s, "wall_ms": wall_ms}]
    write_record(data_dir, night)
    return mode, night, plan
