"""`gmv forecast`, `gmv guesses` and the morning report's baseline on a night counted by the real
worker into real files, with last year's whole day loaded: the live snapshot and the command line
agree, `--at` reads only the orders before it, the board ranks against the forecast."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from common.redis_server import connect
from common.settings import Settings, load_settings
from dashboard.guesses import GuessBoard, Guesser, closing_ms
from gmv.cli import main
from ingest.contract import format_cents, midnight_ms
from ingest.day_shape import DEFAULT_SHAPE
from ingest.forecast import METHOD_LAST_YEAR
from ingest.history import history_parts, orders_view
from ingest.past_nights import PastNight, write_minutes_jsonl
from ingest.worker import run_worker
from rehearsal.days import simulate_day
from rehearsal.publish import StreamPublisher
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

PLAN = NightPlan(seed=11, peak_ops=300, start_s=-60, duration_s=21 * 60)
MIDNIGHT = midnight_ms(date(2026, 11, 11))
LAST_MIDNIGHT = midnight_ms(date(2025, 11, 11))


def publish_last_years_day(client: Any, settings: Settings) -> None:
    """Last year's whole day, compact: one order per minute carrying that minute's GMV of a
    simulated day (what the forecast reads of it is GMV per minute)."""
    day = simulate_day(DEFAULT_SHAPE, 250, seed=5)
    payloads = []
    minutes = [day.before_cents, *day.minutes.tolist()]
    for minute, cents in enumerate(minutes):
        # The first minute's GMV in two orders of one second: the busiest, as at every midnight.
        for half in range(2 if minute == 1 else 1):
            share = cents // 2 if minute == 1 else cents
            payloads.append(json.dumps({
                "order_id": f"ly-{minute}-{half}",
                "ts": LAST_MIDNIGHT + (minute - 1) * 60_000 + 30_000,
                "amount": format_cents(max(int(share + (cents % 2) * half), 1)),
                "device": "mobile", "category": "food", "region": "ZJ", "merchant_id": "m1",
                "buyer_id": "b1", "item_id": "i1", "quantity": 1}).encode())
    StreamPublisher(client, settings.orders_stream).publish(payloads)
    run_worker(client, settings, until_idle=True)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> tuple[Settings, Any]:
    home = tmp_path_factory.mktemp("forecast-night")
    client = connect(redis_server.url)
    client.flushall()
    last_year = load_settings(env={}, redis_url=redis_server.url, data_dir=home / "last-year")
    last_year = last_year.replace(orders_stream="gmv:orders:last-year")
    publish_last_years_day(client, last_year)
    settings = load_settings(env={}, redis_url=redis_server.url, data_dir=home / "data")
    settings = settings.replace(last_year_data_dir=str(last_year.data_dir))
    simulate_to_stream(PLAN, client, settings, None, home / "labels.json", "test")
    run_worker(client, settings, until_idle=True)
    live = json.loads(client.get(settings.snapshot_key) or b"{}")
    client.flushall()
    return settings, live


@pytest.fixture(autouse=True)
def last_year_set(night: tuple[Settings, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMV_LAST_YEAR_DATA_DIR", night[0].last_year_data_dir)


def cli(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([*args, "--data", str(settings.data_dir), "--redis", settings.redis_url, "-q"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_forecast_from_the_store_matches_the_live_snapshot(
        night: tuple[Settings, Any], capsys: pytest.CaptureFixture[str]) -> None:
    settings, live = night
    code, out = cli(settings, capsys, "forecast", "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["method"] == METHOD_LAST_YEAR
    assert document["as_of"] == "2026-11-11T00:19:00.000+08:00"  # the last whole minute
    cents = [int(document[k].replace(".", "")) for k in ("low", "final_gmv", "high")]
    assert cents == sorted(cents) and all(k in document for k in ("as_of", "method"))
    # The worker's snapshot carries the same forecast, as of the same minute.
    assert live["forecast"]["final_gmv"] == document["final_gmv"]
    assert live["forecast"]["as_of"] == document["as_of"]


def test_as_it_stood_reads_only_the_orders_before(night: tuple[Settings, Any],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = night
    code, out = cli(settings, capsys, "forecast", "--json", "--at", "2026-11-11T00:10")
    assert code == 0, out
    document = json.loads(out)
    db = duckdb.connect()
    orders_view(db, history_parts(settings.data_dir))
    before = db.execute("SELECT sum(amount_cents)::BIGINT FROM orders WHERE ts_ms < ?",
                        [MIDNIGHT + 600_000]).fetchone()
    assert before is not None and document["so_far"] == format_cents(int(before[0]))
    assert document["as_of"] == "2026-11-11T00:10:00.000+08:00"
    code, out = cli(settings, capsys, "forecast", "--json", "--at", "2026-11-11T00:04")
    assert code == 0 and json.loads(out)["status"] == "not_enough_data"
    code, out = cli(settings, capsys, "forecast", "--at", "soon")
    assert code == 2 and len(out.strip().splitlines()) == 1 and "not an ISO time" in out


def test_the_guesses_rank_against_the_forecast(night: tuple[Settings, Any],
                                               capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    settings, _ = night
    closes = closing_ms(settings.guesses_close_at, settings.festival_date)
    board = GuessBoard(settings.data_dir, closes)
    board.submit(Guesser.account("Far"), "1", closes - 60_000)
    board.submit(Guesser.account("Near"), "900000000", closes - 50_000)
    code, out = cli(settings, capsys, "guesses", "--json")
    assert code == 0, out
    table = json.loads(out)
    assert table["against"] == "forecast" and not table["open"] and table["count"] == 2
    assert table["winner"] is None  # the day is not over
    code, forecast_out = cli(settings, capsys, "forecast", "--json")
    target = int(json.loads(forecast_out)["final_gmv_cents"])
    assert [(g["name"], g["distance"]) for g in table["guesses"]] == sorted(
        [("Near", format_cents(abs(900_000_000_00 - target))),
         ("Far", format_cents(abs(1_00 - target)))], key=lambda g: int(g[1].replace(".", "")))


def test_the_morning_report_gives_next_years_baseline(night: tuple[Settings, Any],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    settings, live = night
    code, out = cli(settings, capsys, "report", "--from", "2026-11-11T00:00",
                    "--to", "2026-11-11T00:20", "--json")
    assert code == 0, out
    ahead = json.loads(out)["next_year"]
    assert ahead["peak_ops"] == live["peak_ops"] > 0
    assert ahead["capacity_eps"] and ahead["headroom"] == round(ahead["capacity_eps"] /
                                                                ahead["peak_ops"], 2)
    code, out = cli(settings, capsys, "report", "--from", "2026-11-11T00:00",
                    "--to", "2026-11-11T00:20")
    assert f"next year's baseline: peak {live['peak_ops']:,} orders/s" in out


def test_recorded_nights_and_a_prior_in_the_snapshot_and_the_cli_alike(
        night: tuple[Settings, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """GMV_PAST_NIGHTS (a recorded night two years back, as GMV per minute) and
    GMV_FORECAST_PRIOR move the forecast, and the worker's snapshot and `gmv forecast` say the
    same; a recording that cannot be read is one line from the command."""
    counted, _ = night
    two_years_back = simulate_day(DEFAULT_SHAPE, 180, seed=8)
    recording = tmp_path / "2024-11-11.jsonl"
    write_minutes_jsonl(PastNight("2024", two_years_back.minutes, two_years_back.before_cents,
                                  midnight_ms(date(2024, 11, 11))), recording)
    data = tmp_path / "data"
    shutil.copytree(counted.data_dir, data)
    settings = counted.replace(data_dir=data, past_nights=str(recording),
                               forecast_prior="2000000.00", orders_stream="gmv:orders:again")
    for name, value in (("GMV_PAST_NIGHTS", str(recording)), ("GMV_FORECAST_PRIOR", "2000000.00")):
        monkeypatch.setenv(name, value)
    code, out = cli(settings, capsys, "forecast", "--json")
    assert code == 0, out
    document = json.loads(out)
    monkeypatch.delenv("GMV_PAST_NIGHTS")
    monkeypatch.delenv("GMV_FORECAST_PRIOR")
    _, plain = cli(settings, capsys, "forecast", "--json")
    assert document["final_gmv"] != json.loads(plain)["final_gmv"]
    assert set(document) == set(json.loads(plain))  # the contract's keys, unchanged

    client = connect(redis_server.url)
    run_worker(client, settings, until_idle=True)  # over the counted store, nothing new to read
    capsys.readouterr()  # its log lines
    live = json.loads(client.get(settings.snapshot_key) or b"{}")
    assert live["forecast"]["final_gmv"] == document["final_gmv"]
    assert live["forecast"]["as_of"] == document["as_of"]

    recording.write_text("not a night\n")
    monkeypatch.setenv("GMV_PAST_NIGHTS", str(recording))
    code, out = cli(settings, capsys, "forecast", "--json")
    assert code == 2 and len(out.strip().splitlines()) == 1 and "GMV_PAST_NIGHTS" in out, out
