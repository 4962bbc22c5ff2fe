"""`gmv demo`: the whole war room on one machine, on embedded defaults."""

from __future__ import annotations

import logging

from gmv.logs import log_event
from gmv.settings import Settings
from ingest.incidents import every_kind
from ingest.redis_server import connect, redis_url_for
from ingest.rehearsal import simulate_to_stream
from ingest.simulate import NightPlan

log = logging.getLogger("gmv.demo")
DEMO_START_S = -60
DEMO_DURATION_S = 24 * 3600 + 60


def run_demo(settings: Settings, seed: int, peak_ops: int, speed: float) -> None:
    """Redis and the simulator at festival pace, from a minute before midnight, with incidents."""
    plan = NightPlan(seed=seed, peak_ops=peak_ops, start_s=DEMO_START_S,
                     duration_s=DEMO_DURATION_S,
                     incidents=tuple(every_kind(120, 1800, seed)))
    with redis_url_for(settings) as url:
        log_event(log, "demo_started", redis=url, data=settings.data_dir)
        simulate_to_stream(plan, connect(url), settings, speed,
                           settings.data_dir / "labels.json", "gmv demo")
