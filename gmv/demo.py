"""`gmv demo`: the whole war room on one machine, on embedded defaults."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gmv.logs import log_event
from gmv.settings import Settings
from ingest.incidents import every_kind
from ingest.redis_server import connect, redis_url_for
from ingest.rehearsal import simulate_to_stream
from ingest.simulate import NightPlan

log = logging.getLogger("gmv.demo")
DEMO_START_S = -60
DEMO_DURATION_S = 24 * 3600 + 60


@contextmanager
def _service(name: str, args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """A `gmv` subcommand running beside the demo, stopped (SIGTERM) when the demo ends."""
    process = subprocess.Popen([sys.executable, "-m", "gmv.cli", *args])
    log_event(log, "service_started", service=name, pid=process.pid)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log_event(log, "service_stopped", service=name, code=process.returncode)


def run_demo(settings: Settings, seed: int, peak_ops: int, speed: float) -> None:
    """Redis, the ingest worker, the dashboard and the simulator at festival pace, from a minute
    before midnight, with one incident of every kind in the first half hour."""
    plan = NightPlan(seed=seed, peak_ops=peak_ops, start_s=DEMO_START_S,
                     duration_s=DEMO_DURATION_S, incidents=tuple(every_kind(120, 1800, seed)))
    with redis_url_for(settings) as url:
        where = ["--redis", url, "--data", str(settings.data_dir)]
        log_event(log, "demo_started", redis=url, data=settings.data_dir)
        url_shown = f"http://{settings.web_host}:{settings.web_port}/"
        with _service("worker", ["ingest", *where]), _service("dashboard", ["serve", *where]):
            print(f"\n  The war room: {url_shown}  (operations: {url_shown}ops, review: "
                  f"{url_shown}review; English: ?lang=en)\n  Ctrl-C stops everything.\n",
                  flush=True)
            simulate_to_stream(plan, connect(url), settings, speed,
                               settings.data_dir / "labels.json", "gmv demo")
