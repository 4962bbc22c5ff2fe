"""The pipeline's capacity is one figure (issue #24, item 5): the tile, the utilisation and the
peak's headroom read the same one, never a trickle's."""

from __future__ import annotations

from typing import Any

from dashboard.outlook import headroom_rows
from dashboard.pipeline import capacity_eps, pipeline_values

# As the issue saw it: measured 72,067/s at the busy hour, 478/s now (a payment outage's trickle).
DURING_THE_OUTAGE = {"ingest_eps": 239, "capacity_eps": 478, "capacity_basis": "working_time",
                     "capacity_best_eps": 72_067, "peak_ops": 4_000}


def test_capacity_is_the_nights_best_measurement_not_the_trickles() -> None:
    assert capacity_eps(DURING_THE_OUTAGE) == 72_067
    assert capacity_eps({"capacity_eps": 8_268}) == 8_268  # before the best is known
    assert capacity_eps({}) is None and capacity_eps(None) is None


def _text(component: Any) -> str:
    return str(component.children)


def test_the_tile_the_utilisation_and_the_headroom_read_one_capacity() -> None:
    _, _, tile, load, *_ = pipeline_values(DURING_THE_OUTAGE, "en")
    headroom = _text(headroom_rows(DURING_THE_OUTAGE, "en")[0])
    assert tile == "72,067/s" and load == "0%"  # 239 / 72,067
    assert "capacity 72,067/s, headroom 18.0×" in headroom
