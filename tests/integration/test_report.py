"""`gmv report` on a night with planted changes, counted by the real worker into real files: the
region that quietly lost half its orders stands at the top of what changed, a channel gone dark
is an incident with the GMV it cost, and every figure adds up to the orders to the cent."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from common.settings import Settings
from dashboard.data.report import Span, build_report, nights
from dashboard.format import value_name
from gmv.cli import main
from ingest.contract import beijing_iso
from ingest.detect.keeper import read_alerts
from ingest.history import history_parts, orders_view
from ingest.worker import run_worker
from rehearsal.festival import REGIONS
from rehearsal.incidents import Incident
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

PLAN = NightPlan(seed=7, peak_ops=600, start_s=0, duration_s=1500, incidents=(
    Incident("device_dark", 300, 90, "device=pad", 1.0),
    Incident("region_dark", 900, 600, f"region={REGIONS[2][0]}", 0.5),
))
LOST_REGION = f"{REGIONS[2][0]}"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Settings:
    from common.redis_server import connect
    from common.settings import load_settings

    data = tmp_path_factory.mktemp("report-night")
    settings = load_settings(env={}, redis_url=redis_server.url, data_dir=data / "data")
    client = connect(redis_server.url)
    client.flushall()
    simulate_to_stream(PLAN, client, settings, None, data / "labels.json", "test")
    run_worker(client, settings, until_idle=True)
    client.flushall()
    return settings


def at(second: int) -> str:
    return beijing_iso(PLAN.midnight_ms + second * 1000)


def report_json(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(["report", "--data", str(settings.data_dir), "--redis", settings.redis_url,
                 "-q", *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def orders_truth(settings: Settings, start_s: int, end_s: int, by: str | None = None) -> Any:
    db = duckdb.connect()
    orders_view(db, history_parts(settings.data_dir))
    key = f"{by}," if by else ""
    rows = db.execute(
        f"SELECT {key} count(*), sum(amount_cents)::BIGINT FROM orders WHERE ts_ms >= ? "
        f"AND ts_ms < ? {'GROUP BY ' + by if by else ''}",
        [PLAN.midnight_ms + start_s * 1000, PLAN.midnight_ms + end_s * 1000]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows} if by else rows[0]


def test_a_region_that_lost_half_its_orders_tops_what_changed(night: Settings,
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    report = report_json(night, capsys, "--from", at(900), "--to", at(1500),
                         "--compare", "previous")
    assert {"from", "to", "gmv", "orders", "compare", "contributors", "incidents"} <= set(report)
    top = report["contributors"][0]
    assert (top["dimension"], top["value"]) == ("region", LOST_REGION)
    assert top["delta"].startswith("-")
    # Half its share of the range's GMV, give or take the night's own noise.
    expected = top["baseline_share"] / 2 * report["gmv_cents"]
    assert 0.6 * expected < -top["delta_cents"] < 1.4 * expected
    deltas = [abs(Decimal(c["delta"])) for c in report["contributors"]]
    assert deltas == sorted(deltas, reverse=True)
    # The contract's formula, from the printed figures.
    for c in report["contributors"][:50]:
        exact = (Fraction(c["share"]) - Fraction(c["baseline_share"])) * Fraction(report["gmv"])
        assert abs(Decimal(c["delta"]) - Decimal(float(exact))) <= Decimal("0.01")


def test_every_figure_adds_up_to_the_orders_to_the_cent(night: Settings,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    # A range not on whole minutes: merchants come from the orders at its edges.
    report = report_json(night, capsys, "--from", at(431), "--to", at(1093))
    orders, cents = orders_truth(night, 431, 1093)
    assert (report["orders"], report["gmv_cents"]) == (orders, cents)
    assert report["gmv"] == f"{cents // 100}.{cents % 100:02d}"
    baseline = orders_truth(night, 431 - 662, 431)
    assert report["compare"] == "previous"
    assert (report["baseline"]["orders"], report["baseline"]["gmv_cents"]) == baseline
    for dimension, column in (("region", "region"), ("merchant", "merchant_id")):
        truth = orders_truth(night, 431, 1093, column)
        rows = {c["value"]: c for c in report["contributors"] if c["dimension"] == dimension}
        assert {v: r["gmv_cents"] for v, r in rows.items() if r["gmv_cents"]} == \
            {v: t[1] for v, t in truth.items()}
        # Shares move, money does not: the deltas of a dimension cancel out (to rounding).
        assert abs(sum(r["delta_cents"] for r in rows.values())) <= len(rows)


def test_a_channel_gone_dark_is_an_incident_with_what_it_cost(night: Settings) -> None:
    tonight, last_year = nights(night)
    report = build_report(Span(PLAN.midnight_ms, PLAN.midnight_ms + 600_000), "previous",
                          tonight, last_year, read_alerts(night.data_dir))
    dark = [i for i in report["incidents"] if i["kind"] == "device_dark"]
    assert dark and dark[0]["dimension"] == "device=pad"
    pad = orders_truth(night, 200, 300, "device")
    pad_per_s = pad["pad"][1] / 100
    # Roughly the pad's usual GMV per second over how long it was dark.
    assert 0.5 * pad_per_s * 90 < dark[0]["gmv_lost_cents"] < 1.6 * pad_per_s * 90
    assert report["peak"]["orders_per_s"] > 0
    assert report["milestones"] and all(m["at_ms"] < PLAN.midnight_ms + 600_000
                                        for m in report["milestones"])


def test_an_html_report_and_impossible_questions(night: Settings, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    base = ["report", "--data", str(night.data_dir), "--redis", night.redis_url, "-q"]
    assert main([*base, "--from", at(900), "--to", at(1500), "--html", str(page)]) == 0
    text = page.read_text()
    # Values by their names ("Jiangsu", not "JS": the report is for people).
    assert "What changed" in text and value_name("en", LOST_REGION) in text
    assert "<script" not in text
    capsys.readouterr()
    assert main([*base, "--from", "yesterday", "--to", at(10)]) == 2
    assert "not an ISO time" in capsys.readouterr().err
    assert main([*base, "--from", at(10), "--to", at(5)]) == 2
    assert "ends before it starts" in capsys.readouterr().err
    assert main([*base, "--from", at(0), "--to", at(10), "--compare", "last-year"]) == 1
    assert "no last year loaded" in capsys.readouterr().err


def test_reviews_report_of_a_range_a_year_ahead_is_empty_with_a_note(night: Settings) -> None:
    """/review asks build_report for the range on its fields: five minutes a year ahead were
    refused as 'longer than 8 days' (the running total's own span, from the night's start, was
    checked as if a person had asked for it). Now: nothing there yet, and where the data ends."""
    tonight, last_year = nights(night)
    year = 365 * 86_400_000
    report = build_report(Span(PLAN.midnight_ms + year, PLAN.midnight_ms + year + 300_000),
                          "previous", tonight, last_year, read_alerts(night.data_dir))
    assert (report["orders"], report["gmv_cents"], report["peak"]) == (0, 0, None)
    assert report["note"]["key"] == "range_after_night"
    last_s = (PLAN.midnight_ms + PLAN.duration_s * 1000) // 1000 - 1
    assert report["note"]["at_ms"] == last_s * 1000, report["note"]
    inside = build_report(Span(PLAN.midnight_ms, PLAN.midnight_ms + 60_000), "previous",
                          tonight, last_year, [])
    assert inside["note"] is None and inside["orders"] > 0
