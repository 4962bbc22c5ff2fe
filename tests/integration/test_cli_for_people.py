"""The one-shot commands as a person at a terminal reads them (issue #24, item 8): money in 亿/万
with separators as the big screen shows it, no Python reprs, no service INFO lines before the
answer, last year found where the pages find it, a closed pipe ends quietly. The real `gmv`, as a
subprocess, on a real night counted by the real worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.redis_server import connect
from common.settings import Settings, load_settings
from dashboard.guesses import GuessBoard, Guesser, closing_ms
from ingest.history import LAST_YEAR_DIR
from ingest.worker import run_worker
from rehearsal.incidents import parse_incident
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan

TONIGHT = NightPlan(seed=11, peak_ops=300, start_s=-60, duration_s=480)
LAST_YEAR = NightPlan(seed=12, peak_ops=240, start_s=-60, duration_s=480,
                      festival_day=date(2025, 11, 11))
RAW_MONEY = re.compile(r"¥\d{5,}")  # '¥12632421735.02': digits no one can read at a glance


def _counted(plan: NightPlan, settings: Settings, client: Any, labels: Path) -> None:
    client.flushall()
    simulate_to_stream(plan, client, settings, None, labels, "test")
    run_worker(client, settings, until_idle=True)
    client.flushall()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Settings:
    """Tonight's 8 minutes, last year's in the place `gmv demo` keeps it (DATA/last-year, no
    GMV_LAST_YEAR_DATA_DIR), and two staff guesses."""
    root = tmp_path_factory.mktemp("cli-night")
    settings = load_settings(env={}, redis_url=redis_server.url, data_dir=root / "data")
    client = connect(redis_server.url)
    _counted(TONIGHT, settings, client, root / "labels.json")
    last_year = settings.replace(data_dir=settings.data_dir / LAST_YEAR_DIR)
    _counted(LAST_YEAR, last_year, client, root / "last-labels.json")
    board = GuessBoard(settings.data_dir, closing_ms(settings.guesses_close_at,
                                                     settings.festival_date))
    before_closing = board.closes_at_ms - 60_000
    board.submit(Guesser.by_name("李伟"), "125.42亿", before_closing)
    board.submit(Guesser.by_name("ada"), "12,542,000,000", before_closing)
    return settings


def gmv(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GMV_", "REDIS_URL"))}
    return subprocess.run([sys.executable, "-m", "gmv.cli", *args, "--data",
                           str(settings.data_dir)], capture_output=True, text=True, timeout=120,
                          env={**env, "REDIS_URL": settings.redis_url})


def said(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_summary_reads_as_figures_not_a_python_dict(night: Settings) -> None:
    out = said(gmv(night, "summary"))
    assert "{'" not in out and "':" not in out and "[]" not in out, out
    assert not RAW_MONEY.search(out), out
    gmv_line = next(line for line in out.splitlines() if line.startswith("GMV"))
    assert re.search(r"¥[\d,]+\.\d+(万|亿) \(¥\d{1,3}(,\d{3})+\.\d\d\)", gmv_line), gmv_line
    orders = next(line for line in out.splitlines() if line.startswith("orders"))
    assert re.search(r"\d{1,3}(,\d{3})+$", orders), orders
    assert re.search(r"^\s+mobile\s+¥[\d,.]+(万|亿) ", out, re.MULTILINE), out


def test_forecast_reads_in_yi(night: Settings) -> None:
    out = said(gmv(night, "forecast"))
    assert not RAW_MONEY.search(out), out
    assert re.search(r"the day ends at ¥[\d,.]+(亿|万) \(80 %: ¥[\d,.]+(亿|万) – ¥[\d,.]+(亿|万);",
                     out), out


def test_guesses_read_in_yi(night: Settings) -> None:
    out = said(gmv(night, "guesses"))
    assert not RAW_MONEY.search(out) and "12542000000" not in out, out
    assert out.count("¥125.42亿") == 2, out
    assert "李伟" in out


def test_the_report_speaks_the_screens_money(night: Settings) -> None:
    out = said(gmv(night, "report", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05"))
    first = out.splitlines()[0]
    assert re.search(r"GMV ¥[\d,.]+(万|亿) \(¥\d{1,3}(,\d{3})+\.\d\d\)", first), first
    assert not RAW_MONEY.search(out), out


@pytest.mark.parametrize("command", [
    ["report", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05"],
    ["summary"], ["forecast"], ["guesses"], ["alerts"],
])
def test_one_shot_commands_print_their_answer_without_service_logs(night: Settings,
                                                                   command: list[str]) -> None:
    shutil.rmtree(night.data_dir / "review-rollups", ignore_errors=True)  # built again: logged
    result = gmv(night, *command)
    assert result.returncode == 0 and " INFO " not in result.stderr, result.stderr


def test_verbose_brings_the_service_logs_back(night: Settings) -> None:
    shutil.rmtree(night.data_dir / "review-rollups", ignore_errors=True)
    result = gmv(night, "report", "-v", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05")
    assert result.returncode == 0 and "rollup_built" in result.stderr, result.stderr


def test_last_year_is_compared_where_the_demo_keeps_it(night: Settings) -> None:
    """The pages compare with DATA/last-year in the demo's data dir; so does `gmv report`."""
    out = said(gmv(night, "report", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05",
                   "--compare", "last-year"))
    assert "against last-year (2025-11-11 00:00:00 – 2025-11-11 00:05:00)" in out, out
    baseline = re.search(r"against last-year .*: GMV ¥([\d,.]+)", out)
    assert baseline and baseline.group(1) not in ("0.00", "0"), out


@pytest.mark.parametrize("command", [
    ["report", "--json", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05"],
    ["report", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05"],
    ["summary"], ["summary", "--json"], ["forecast"], ["forecast", "--json"], ["guesses"],
    ["guesses", "--json"], ["alerts", "--json"],
])
def test_a_reader_gone_before_the_answer_ends_every_command_quietly(night: Settings,
                                                                     command: list[str]) -> None:
    """`gmv report --json | head -c0`: the reader closed before the first byte."""
    shutil.rmtree(night.data_dir / "review-rollups", ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GMV_", "REDIS_URL"))}
    read, write = os.pipe()
    os.close(read)  # nobody will read
    try:
        running = subprocess.Popen([sys.executable, "-m", "gmv.cli", *command, "--data",
                                    str(night.data_dir)], stdout=write, stderr=subprocess.PIPE,
                                   text=True, env={**env, "REDIS_URL": night.redis_url})
    finally:
        os.close(write)
    _, stderr = running.communicate(timeout=120)
    assert (running.returncode, stderr) == (141, ""), stderr


def test_a_report_of_a_minute_shows_that_minutes_peak_only(night: Settings,
                                                           tmp_path: Path) -> None:
    """The night's busiest second is not the range's: a one-minute report names no peak outside
    it (the next-year baseline is the whole night's, so it stays out)."""
    page = tmp_path / "report.html"
    out = said(gmv(night, "report", "--from", "2026-11-11T00:04", "--to", "2026-11-11T00:05",
                   "--html", str(page)))
    out += said(gmv(night, "report", "--from", "2026-11-11T00:04", "--to", "2026-11-11T00:05"))
    peaks = [line for line in out.splitlines() if "peak" in line]
    assert peaks and all(re.search(r"peak [\d,]+ orders/s at 2026-11-11 00:04:\d\d$", line)
                         for line in peaks), peaks
    html = page.read_text(encoding="utf-8")
    assert "Next year" not in html and re.search(r"Peak orders/s.*00:04:\d\d", html), html[:2000]


CODES = re.compile(r"\b(region|payment|device|category)=|level-vs-|working_time|flat_out")


def test_the_report_names_values_as_the_pages_do(night: Settings) -> None:
    """Issue #24: 'Region: Hubei', 'Payment: Alipay', not 'region=HB', 'payment=alipay'; the
    JSON keeps its codes for the tools that parse it."""
    span = ("--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05")
    out = said(gmv(night, "report", *span))
    assert not CODES.search(out), out
    rows = out.splitlines()
    assert any(row.startswith("Region: ") for row in rows), out
    assert any(row.startswith("Payment: Alipay") for row in rows) or \
        any(row.startswith("Device: Mobile") for row in rows), out
    document = json.loads(said(gmv(night, "report", "--json", *span)))
    assert {"dimension", "value"} <= set(document["contributors"][0])
    assert any(c["dimension"] == "region" and c["value"] == c["value"].upper()
               for c in document["contributors"]), document["contributors"][:5]


def test_summary_says_how_the_capacity_was_measured_in_words(night: Settings) -> None:
    out = said(gmv(night, "summary"))
    capacity = next(line for line in out.splitlines() if line.startswith("capacity"))
    assert re.search(r"entries/s \((measured|estimated|the sum) [a-z' ]+\)$", capacity), capacity
    assert json.loads(said(gmv(night, "summary", "--json")))["capacity_basis"] in (
        "flat_out", "working_time", "sum of partitions")


def test_forecast_names_its_method_as_the_pages_do(night: Settings) -> None:
    out = said(gmv(night, "forecast"))
    document = json.loads(said(gmv(night, "forecast", "--json")))
    assert document["method"] in ("level-vs-festival-profile", "level-vs-last-year", "final")
    assert not CODES.search(out), out
    assert re.search(r"; level against (the festival's profile|last year's day)\)$|; final\)$",
                     out.strip()), out


@pytest.fixture(scope="module")
def dark_night(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Settings:
    """A night where Guangdong's orders stop for two minutes: the worker raises region_dark."""
    root = tmp_path_factory.mktemp("cli-dark-night")
    settings = load_settings(env={}, redis_url=redis_server.url, data_dir=root / "data")
    plan = NightPlan(seed=13, peak_ops=300, start_s=-60, duration_s=480,
                     incidents=(parse_incident("region_dark@2m/150s:region=GD"),))
    _counted(plan, settings, connect(redis_server.url), root / "labels.json")
    return settings


def test_the_reports_incidents_read_as_the_war_rooms_headlines(dark_night: Settings) -> None:
    """'critical  Orders from Guangdong stopped', not 'critical region_dark region=GD'."""
    span = ("--from", "2026-11-11T00:00", "--to", "2026-11-11T00:07")
    document = json.loads(said(gmv(dark_night, "report", "--json", *span)))
    assert any(i["kind"] == "region_dark" and i["dimension"] == "region=GD"
               for i in document["incidents"]), document["incidents"]
    out = said(gmv(dark_night, "report", *span))
    assert "Orders from Guangdong stopped" in out or "Orders from Guangdong falling" in out, out
    assert "region_dark" not in out and "region=GD" not in out, out


# Issue #24, the CLI's truths: a range is refused or answered for what it is.

@pytest.mark.parametrize(("start", "end", "note"), [
    ("2027-11-11 00:00:00", "2027-11-11 00:05:00",
     "No orders in this range yet: the data ends at 2026-11-11 00:06:59"),
    ("2026-11-12 10:00:00", "2026-11-12 10:05:00",
     "No orders in this range yet: the data ends at 2026-11-11 00:06:59"),
    ("2025-11-11 00:00:00", "2025-11-11 00:05:00",
     "No orders in this range: the data begins at 2026-11-10 23:59:00"),
])
def test_a_range_without_the_nights_orders_says_so_not_that_it_is_too_long(
        night: Settings, start: str, end: str, note: str) -> None:
    """Five minutes a year ahead were refused as 'the range is longer than 8 days'."""
    answer = gmv(night, "report", "--from", start, "--to", end)
    assert (answer.returncode, answer.stderr) == (0, ""), answer.stderr
    assert answer.stdout.splitlines() == [f"{start} – {end}: {note}"], answer.stdout
    document = json.loads(said(gmv(night, "report", "--json", "--from", start, "--to", end)))
    assert document["note"]["text"] == note, document["note"]
    assert (document["gmv"], document["orders"]) == ("0.00", 0)


def test_equal_start_and_end_is_said_to_be_an_empty_range(night: Settings) -> None:
    """Not 'ends before it starts': the same words as /review, in the command line's English."""
    same = gmv(night, "report", "--from", "2026-11-11T00:03", "--to", "2026-11-11 00:03:00")
    assert same.returncode == 2 and same.stdout == "", same.stdout
    assert same.stderr.splitlines() == ["gmv report: error: Start and end are the same moment: "
                                        "choose a stretch of time (see gmv report --help)"]
    backwards = gmv(night, "report", "--from", "2026-11-11T00:04", "--to", "2026-11-11T00:03")
    assert backwards.returncode == 2 and len(backwards.stderr.splitlines()) == 1
    assert "ends before it starts" in backwards.stderr, backwards.stderr


def test_a_report_without_a_range_is_the_night_so_far(night: Settings) -> None:
    """From the night's first second to its last committed one, said in --help."""
    document = json.loads(said(gmv(night, "report", "--json")))
    totals = json.loads(said(gmv(night, "summary", "--json")))
    assert (document["from"][:19], document["to"][:19]) == ("2026-11-10T23:59:00",
                                                            "2026-11-11T00:07:00")
    assert (document["orders"], document["gmv"]) == (totals["orders"], totals["gmv"])
    assert document["note"] is None
    assert said(gmv(night, "report")).startswith("2026-11-10 23:59:00 – 2026-11-11 00:07:00  GMV")
    since = json.loads(said(gmv(night, "report", "--json", "--from", "2026-11-11T00:06")))
    assert (since["from"][:19], since["to"][:19]) == ("2026-11-11T00:06:00", "2026-11-11T00:07:00")
    after = said(gmv(night, "report", "--from", "2027-11-11T00:00"))  # not 'swap the times'
    assert after.strip().endswith("No orders in this range yet: the data ends at "
                                  "2026-11-11 00:06:59"), after
    helped = " ".join(said(gmv(night, "report", "--help")).split())
    assert "Neither given: the night so far" in helped, helped


@pytest.mark.parametrize("command", [
    ["report", "--json"], ["report"], ["summary", "--json"], ["summary"],
    ["report", "--json", "--from", "2026-11-11T00:00", "--to", "2026-11-11T00:05"],
])
def test_head_takes_the_first_line_and_the_command_ends_quietly(night: Settings,
                                                                command: list[str]) -> None:
    """`gmv report --json | head -1`: exit 0 (all written) or 141 (the reader left), no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GMV_", "REDIS_URL"))}
    running = subprocess.Popen([sys.executable, "-m", "gmv.cli", *command, "--data",
                                str(night.data_dir)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**env, "REDIS_URL": night.redis_url})
    assert running.stdout is not None
    head = subprocess.run(["head", "-1"], stdin=running.stdout, capture_output=True, timeout=120)
    running.stdout.close()
    _, stderr = running.communicate(timeout=120)
    assert head.returncode == 0 and head.stdout.strip(), head.stderr
    assert running.returncode in (0, 141) and stderr == b"", stderr.decode()


def test_summary_the_report_and_ops_show_one_capacity(settings: Settings, tmp_path: Path) -> None:
    """Issue #24: `gmv summary`, `gmv report`'s next-year headroom and the /ops tile (the
    snapshot through dashboard/pipeline.py) give one capacity, with one basis, in the same
    words: a real worker's night, read as each reader reads it."""
    from dashboard.pipeline import capacity_eps
    from ingest.rate import night_capacity

    client = connect(settings.redis_url)
    client.flushall()
    simulate_to_stream(NightPlan(seed=5, peak_ops=300, start_s=-10, duration_s=90), client,
                       settings, None, tmp_path / "labels.json", "test")
    run_worker(client, settings, until_idle=True)
    live = json.loads(client.get(settings.snapshot_key) or b"{}")
    totals = json.loads(said(gmv(settings, "summary", "--json")))
    ahead = json.loads(said(gmv(settings, "report", "--json")))["next_year"]
    shown = capacity_eps(live)
    assert shown and totals["capacity_eps"] == ahead["capacity_eps"] == shown, (totals, ahead)
    assert totals["capacity_basis"] == ahead["capacity_basis"] == night_capacity(live).basis
    summary_line = next(line for line in said(gmv(settings, "summary")).splitlines()
                        if line.startswith("capacity"))
    report_line = next(line for line in said(gmv(settings, "report")).splitlines()
                       if line.startswith("next year's baseline"))
    words = summary_line.split("capacity", 1)[1].strip()
    assert words.startswith(f"{shown:,} entries/s (") and f"capacity {words}:" in report_line, \
        (summary_line, report_line)
