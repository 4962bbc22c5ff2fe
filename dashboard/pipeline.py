"""The pipeline's health as the operations view shows it."""

from __future__ import annotations

import re
import socket
from typing import Any

from dash import html

from dashboard.format import format_count, format_duration_ms, text
from dashboard.shown import shown
from ingest.rate import night_capacity

_HOST_PID = re.compile(r"(?P<host>.+):(?P<pid>\d+)")  # the worker's name: host:pid


def capacity_eps(live: dict[str, Any] | None) -> int | None:
    """The pipeline's capacity, the one figure every tile of a page shows (the capacity tile, the
    utilisation, the peak's headroom), as `gmv summary` and the report show it too:
    ingest/rate.py's `night_capacity` of the snapshot (the fastest the worker was measured to
    count tonight, kept across restarts; never a trickle's figure, nor the arrival rate; before
    any such measurement, the worker's current figure). docs/operating.md says the same."""
    return night_capacity(live).eps


def pipeline_values(live: dict[str, Any], lang: str) -> tuple[Any, ...]:
    """Stream lag, ingest rate, capacity, load (rate / capacity), rejected, duplicates,
    heartbeat age, worker."""
    rate, capacity = live.get("ingest_eps"), capacity_eps(live)
    unit = text(lang, "per_second_unit")
    return (format_duration_ms(live.get("lag_ms"), lang) + stream_lost(live, lang),
            f"{format_count(rate)}{unit}", f"{format_count(capacity)}{unit}",
            f"{rate / capacity:.0%}" if rate is not None and capacity else "—",
            format_count(live.get("rejected")), format_count(live.get("duplicates")),
            format_duration_ms(live.get("age_ms"), lang), workers(live, lang))


def workers(live: dict[str, Any], lang: str) -> Any:
    """The worker; with partitions, how many beat and which are stale (short: a tile)."""
    each = live.get("partitions")
    if not each:
        return worker_said(str(live.get("worker") or "—"), lang)
    stale = [f"p{e['partition']}" for e in each if e.get("stale")]
    counted = f"{len(each) - len(stale)}/{len(each)}"
    return f"{counted} · {','.join(stale)} {text(lang, 'partition_stale')}" if stale else counted


def worker_said(name: str, lang: str) -> Any:
    """'vm:2786' -> '本机，进程 2786' / 'this machine, process 2786' (or the host named when it is
    another machine's), the code itself in the tooltip for whoever must find the process; a
    name of another shape as it is."""
    found = _HOST_PID.fullmatch(name)
    if found is None:
        return name
    pid, host = found["pid"], found["host"]
    said = text(lang, "worker_here", pid=pid) if host == socket.gethostname() \
        else text(lang, "worker_host", host=shown(host), pid=pid)
    return html.Span(said, title=shown(name), className="worker-name")


def stream_lost(live: dict[str, Any], lang: str) -> str:
    """Entries removed from the stream before they were read (a stream gap), beside the lag: the
    lag alone would read 0 over them."""
    if not live.get("stream_gaps"):
        return ""
    lost = live.get("stream_lost")
    said = text(lang, "stream_lost", lost=format_count(lost)) if lost is not None \
        else text(lang, "stream_lost_unknown")
    return f" · ⚠ {said}"
