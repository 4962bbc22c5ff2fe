"""What a process tree uses: the dashboard is gunicorn and its workers."""

from __future__ import annotations

import os
from pathlib import Path


def tree_usage(pid: int) -> tuple[int, float]:
    """RSS (bytes) and CPU time (s) of a process and its children (gunicorn and its workers)."""
    rss, cpu, pids = 0, 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        rss += next(int(line.split()[1]) * 1024 for line in status.splitlines()
                    if line.startswith("VmRSS:"))
        cpu += (int(stat[11]) + int(stat[12])) / tick  # utime, stime
        pids.extend(int(c) for c in children)
    return rss, cpu
