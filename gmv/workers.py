"""`gmv ingest --workers N`: the common case of a partitioned night on one machine: N worker
processes (`gmv ingest --worker i/N`) and the combiner (`gmv combine`), started and stopped
together. A process manager does the same with one line each (Procfile, docs/operating.md)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from common.logs import log_event, log_line
from common.settings import Settings

log = logging.getLogger("gmv.workers")


def run_worker_processes(settings: Settings, workers: int, until_idle: bool, quiet: bool) -> None:
    """Until every process has ended (`until_idle`) or SIGTERM/Ctrl-C, which is passed on; one
    that fails stops the others, and this command fails."""
    common = [*(["--until-idle"] if until_idle else []), *(["-q"] if quiet else []),
              "--data", str(settings.data_dir)]
    if settings.redis_url:
        common += ["--redis", settings.redis_url]
    env = {**os.environ, **settings.as_env()}
    commands = [[sys.executable, "-m", "gmv.cli", "ingest", "--worker", f"{i}/{workers}", *common]
                for i in range(workers)]
    commands.append([sys.executable, "-m", "gmv.cli", "combine", *common])
    processes = [subprocess.Popen(command, env=env) for command in commands]
    log_event(log, "workers_started", workers=workers, partitions=settings.partitions,
              pids=",".join(str(p.pid) for p in processes))

    def stop(signum: int, frame: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = None
    combiner = processes[-1]
    while any(p.poll() is None for p in processes):
        for process in processes:
            if process.poll() not in (None, 0) and failed is None:
                failed = process
                log_line(log, logging.ERROR, "worker_process_failed", pid=process.pid,
                         code=process.returncode)
                stop(signal.SIGTERM, None)
        time.sleep(0.2)
    log_event(log, "workers_stopped", code=combiner.returncode)
    if failed is not None:
        raise SystemExit(1)
