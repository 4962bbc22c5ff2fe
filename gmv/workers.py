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
from common.stopping import parent_death_signal, stop_on_signals

log = logging.getLogger("gmv.workers")


def run_worker_processes(settings: Settings, workers: int, until_idle: bool, quiet: bool) -> None:
    """Until every process has ended (`until_idle`) or SIGTERM/Ctrl-C, which is passed on; one
    that fails stops the others, and this command fails."""
    common = [*(["--until-idle"] if until_idle else []), *(["-q"] if quiet else []),
              "--data", str(settings.data_dir)]
    # The Redis URL (and its password) in REDIS_URL: a command line is anyone's to read in
    # /proc/PID/cmdline, a process's environment only its owner's.
    env = {**os.environ, **settings.as_env()}
    commands = [[sys.executable, "-m", "gmv.cli", "ingest", "--worker", f"{i}/{workers}", *common]
                for i in range(workers)]
    commands.append([sys.executable, "-m", "gmv.cli", "combine", *common])
    # Each dies with this command, even with a kill -9 of it: nothing is left to run on alone.
    processes = [subprocess.Popen(command, env=env, preexec_fn=parent_death_signal())
                 for command in commands]
    log_event(log, "workers_started", workers=workers, partitions=settings.partitions,
              pids=",".join(str(p.pid) for p in processes))

    def stop() -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
    stop_on_signals(also=stop)  # each stops within STOP_WITHIN_S; so does this one
    failed = None
    combiner = processes[-1]
    while any(p.poll() is None for p in processes):
        for process in processes:
            if process.poll() not in (None, 0) and failed is None:
                failed = process
                log_line(log, logging.ERROR, "worker_process_failed", pid=process.pid,
                         code=process.returncode)
                stop()
        time.sleep(0.2)  # a poll of the children, which the signal handler has told
    log_event(log, "workers_stopped", code=combiner.returncode)
    if failed is not None:
        raise SystemExit(1)
