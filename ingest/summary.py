"""The night's totals of shared/contract.md (`gmv summary --json`, `GET /api/summary`), exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.contract import beijing_iso, format_cents
from ingest.history import read_summary
from ingest.live_state import LiveState
from ingest.rate import Capacity, night_capacity


def live_summary(state: LiveState, position: str | None) -> dict[str, Any]:
    """The contract's keys from the committed state, plus where it stands."""
    peak = state.peak_second
    devices = sorted(state.totals["device"].items())
    return {
        "gmv": format_cents(state.gmv_cents), "orders": state.orders,
        "peak_ops": state.peak_ops,
        "peak_second": beijing_iso(peak * 1000).replace(".000", "") if peak is not None else None,
        "by_device": {d: {"gmv": format_cents(g), "orders": n} for d, (n, g) in devices},
        "rejected": state.rejected, "duplicates": state.duplicates,
        "position": position,
    }


def capacity_of(figures: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's capacity (entries/s) and its basis as the summary keeps it (`gmv summary`,
    the morning report's next-year headroom, the next run's start): `night_capacity` of the
    worker's figures, the one the screens show."""
    capacity = night_capacity(figures)
    return {"capacity_eps": capacity.eps, "capacity_basis": capacity.basis}


def previous_capacity(data_dir: Path) -> Capacity:
    """The night's best capacity as the last run kept it in its summary."""
    try:
        summary = read_summary(data_dir)
    except (FileNotFoundError, ValueError):
        return Capacity(None, None)
    return Capacity(summary.get("capacity_eps"), summary.get("capacity_basis"))
