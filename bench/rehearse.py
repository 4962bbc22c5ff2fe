"""A simulated night through the real pipeline, for the alert tests and the alert-quality bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import redis

from common.settings import Settings
from ingest.detect.keeper import read_alerts
from ingest.worker import drained
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan


def rehearse_alerts(plan: NightPlan, client: redis.Redis, settings: Settings,
                    speed: float | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The night through the real pipeline: published at `speed` times its own pace (None: as
    fast as possible) while a `gmv ingest` process counts it. At a pace the worker keeps up
    with, a batch spans about a second of the night, as it does live, not the tens of seconds
    of a backlog. Its alerts and its labelled incidents."""
    labels = settings.data_dir / "labels.json"
    worker = subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "-q"],
                              env={**os.environ, **settings.as_env()})
    try:
        simulate_to_stream(plan, client, settings, speed, labels, "rehearse_alerts")
        _wait_counted(client, settings, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return read_alerts(settings.data_dir), json.loads(labels.read_text())["incidents"]


def _wait_counted(client: redis.Redis, settings: Settings, worker: subprocess.Popen) -> None:
    """Until the worker has committed the stream's last entry (and so written its alerts: the
    worker acknowledges a batch only after its alerts are stored)."""
    while worker.poll() is None:
        if drained(client, settings):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the worker exited with {worker.returncode}")
