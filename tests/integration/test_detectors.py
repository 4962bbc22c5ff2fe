"""Every detector fires on its labelled incident and stays quiet on clean nights, through the
real pipeline (simulator -> Redis -> `gmv ingest` -> alerts.json), including the midnight surge
and the 02:30 decay."""

from __future__ import annotations

from typing import Any

import pytest

from bench.rehearse import rehearse_alerts
from bench.scoring import PIPELINE_KINDS, Score, answers
from common.redis_server import EmbeddedRedis, connect
from common.settings import load_settings
from rehearsal.incidents import KINDS, every_kind
from rehearsal.simulate import NightPlan

# Small batches: each spans a few seconds of a night published as fast as possible, as a
# batch spans a fraction of a second on the night itself.
BATCH = 2_000
Night = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def rehearse(server: EmbeddedRedis, tmp: Any, name: str, plan: NightPlan) -> Night:
    client = connect(server.url)
    settings = load_settings(env={}, redis_url=server.url, data_dir=tmp / name,
                             orders_stream=f"{name}:orders", inventory_stream=f"{name}:stock",
                             ingest_batch_size=BATCH, checkpoint_events=BATCH)
    try:
        return rehearse_alerts(plan, client, settings, speed=None)
    finally:
        client.close()


@pytest.fixture(scope="module")
def incident_night(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Night:
    """One incident of every kind, at their default magnitudes, from 00:10 to 00:30."""
    plan = NightPlan(seed=7, peak_ops=3000, start_s=540, duration_s=1260,
                     incidents=tuple(every_kind(600, 1200, 7)))
    return rehearse(redis_server, tmp_path_factory.mktemp("incidents"), "incidents", plan)


def fired(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["fired_ms"] is not None and a["kind"] not in PIPELINE_KINDS]


def answered_in_time(night: Night, kind: str) -> dict[str, Any]:
    """The first alert answering the night's incident of `kind`, fired within its kind's time
    (late orders are seen late only once they arrive, 30-300 s after their second)."""
    alerts, incidents = night
    (incident,) = [i for i in incidents if i["kind"] == kind]
    found = [a for a in fired(alerts) if answers(a, incident)]
    assert found, f"no alert answered {incident}"
    delay_s = (min(a["fired_ms"] for a in found) - incident["start_ms"]) / 1000
    assert delay_s <= (2 if kind == "oversell" else 75 if kind == "late_arrivals" else 15)
    return found[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_detector_fires_on_its_incident_within_seconds(incident_night: Night,
                                                            kind: str) -> None:
    alert = answered_in_time(incident_night, kind)
    assert alert["expected"] is not None and alert["actual"] is not None and alert["message"]


def test_the_incident_night_has_no_alert_outside_its_incidents(incident_night: Night) -> None:
    alerts, incidents = incident_night
    score = Score()
    score.add_night(alerts, incidents, hours=0.35)
    assert score.false_alarms == []
    assert score.recall == 1.0


@pytest.mark.parametrize("start_s, duration_s, peak_ops", [
    pytest.param(-60, 360, 2000, id="midnight-surge"),
    pytest.param(2 * 3600 + 1200, 1200, 10000, id="0230-decay"),
])
def test_a_clean_night_raises_no_alert(redis_server: EmbeddedRedis, tmp_path: Any,
                                       start_s: int, duration_s: int, peak_ops: int) -> None:
    plan = NightPlan(seed=11, peak_ops=peak_ops, start_s=start_s, duration_s=duration_s)
    alerts, incidents = rehearse(redis_server, tmp_path, f"clean{start_s}", plan)
    assert incidents == []
    assert [(a["kind"], a["dimension"], a["start"], a["message"]) for a in alerts] == []
