"""Half an outage is an outage (issue #25): every incident kind at half its full magnitude (a
path or a channel half dark, mobile included, a payment outage failing half the orders, prices
12.5x, half the bots) is alerted within seconds through the real pipeline, the alerts one cause
sets off are one incident, and nights shaped unlike the simulator's own raise nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.alert_quality import FAMILIES, FULL
from bench.scoring import answers
from common.redis_server import EmbeddedRedis
from gmv.cli import main
from ingest.contract import beijing_iso
from rehearsal.incidents import KINDS, Incident, every_kind
from rehearsal.simulate import NightPlan
from tests.integration.test_detectors import Night, answered_in_time, fired, rehearse


def half(incident: Incident) -> Incident:
    target = "device=mobile" if incident.kind == "device_dark" else incident.target
    magnitude = FULL[incident.kind] * 0.5
    return replace(incident, target=target, magnitude=magnitude)


PLAN = NightPlan(seed=7, peak_ops=3000, start_s=540, duration_s=1260,
                 incidents=tuple(half(i) for i in every_kind(600, 1200, 7)))
DATA: dict[str, Path] = {}


@pytest.fixture(scope="module")
def half_night(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Night:
    tmp = tmp_path_factory.mktemp("half")
    DATA["half"] = tmp / "half"
    return rehearse(redis_server, tmp, "half", PLAN)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_at_half_magnitude_is_alerted_within_seconds(half_night: Night,
                                                               kind: str) -> None:
    answered_in_time(half_night, kind)


def test_alerts_outside_the_half_incidents_are_none(half_night: Night) -> None:
    alerts, incidents = half_night
    alone = [a for a in fired(alerts) if not any(
        a["start_ms"] <= i["end_ms"] + 30_000 and (a["end_ms"] or 2**62) >= i["start_ms"] - 30_000
        for i in incidents)]
    assert [(a["kind"], a["dimension"], a["start"], a["message"]) for a in alone] == []


def test_what_one_cause_sets_off_is_one_incident(half_night: Night) -> None:
    """Mobile half dark also drops the site's orders: one incident, the channel its cause; each
    alert keeps its kind. Incidents of different causes stay apart."""
    alerts, incidents = half_night
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for alert in fired(alerts):
        by_kind.setdefault(alert["kind"], []).append(alert)
    (mobile,) = [i for i in incidents if i["kind"] == "device_dark"]
    (dark,) = [a for a in by_kind["device_dark"] if answers(a, mobile)]
    as_drop = mobile | {"kind": "payment_outage", "dimension": None}
    drops = [a for a in by_kind.get("orders_drop", []) if answers(a, as_drop)]
    assert all(d["incident"] == dark["incident"] for d in drops)
    ids = {a["incident"] for a in fired(alerts)}
    assert all(a["incident"] for a in fired(alerts))
    assert len(ids) >= len(incidents) - 1  # nothing merged across causes (one may double up)


def test_the_review_counts_an_incidents_loss_once(half_night: Night,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The review's incidents carry their incident id; the GMV lost is the cause's alone (the
    site-wide drop that mobile's half outage set off loses nothing more)."""
    _, incidents = half_night
    (mobile,) = [i for i in incidents if i["kind"] == "device_dark"]
    code = main(["report", "--data", str(DATA["half"]), "-q", "--json",
                 "--from", beijing_iso(mobile["start_ms"] - 60_000),
                 "--to", beijing_iso(mobile["end_ms"] + 60_000)])
    out = capsys.readouterr().out
    assert code == 0, out
    listed = json.loads(out)["incidents"]
    (dark,) = [i for i in listed if i["kind"] == "device_dark"]
    assert dark["cause"] and dark["gmv_lost_cents"] > 0
    together = [i for i in listed if i["incident"] == dark["incident"] and i is not dark]
    assert together and all(not i["cause"] and i["gmv_lost_cents"] is None for i in together)


def test_gmv_alerts_shows_an_incident_with_what_it_set_off(
        half_night: Night, capsys: pytest.CaptureFixture[str]) -> None:
    alerts, _ = half_night
    assert main(["alerts", "--data", str(DATA["half"]), "-q", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {a["key"]: a["incident"] for a in printed} == {a["key"]: a["incident"] for a in alerts}
    assert main(["alerts", "--data", str(DATA["half"]), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (dark,) = [i for i, line in enumerate(lines) if "device_dark" in line]
    assert "also: orders_drop" in lines[dark + 1]


@pytest.mark.parametrize("family", ["sharp", "flat", "quiet", "second-wave"])
def test_a_clean_night_of_another_shape_raises_no_alert(redis_server: EmbeddedRedis,
                                                        tmp_path: Any, family: str) -> None:
    shape = FAMILIES[family]
    if shape.second:
        shape = replace(shape, second_at_s=200)
    plan = NightPlan(seed=13, peak_ops=2500, start_s=-60, duration_s=600, shape=shape)
    alerts, incidents = rehearse(redis_server, tmp_path, f"clean-{family}", plan)
    assert incidents == []
    assert [(a["kind"], a["dimension"], a["start"], a["message"]) for a in alerts] == []
