"""The night's totals of shared/contract.md (`gmv summary --json`, `GET /api/summary`), exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.contract import beijing_iso, format_cents
from ingest.history import read_summary
from ingest.live_state import LiveState


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
    """The pipeline's measured capacity (entries/s) as the summary keeps it for the morning
    report: the night's best (ingest/rate.py); next year's baseline is tonight's peak against
    it."""
    return {"capacity_eps": figures.get("capacity_best_eps"),
            "capacity_basis": figures.get("capacity_basis")}


def previous_capacity(data_dir: Path) -> int | None:
    """The night's best capacity as the last run kept it in its summary."""
    try:
        return read_summary(data_dir).get("capacity_eps")
    except (FileNotFoundError, ValueError):
        return None
