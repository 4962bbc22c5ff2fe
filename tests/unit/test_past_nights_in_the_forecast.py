"""Recorded past nights (GMV_PAST_NIGHTS) as the forecast leans on them: one it will not lean
on is said in the log, naming the file; one listed twice counts once, and is said too."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from common.settings import load_settings
from ingest.contract import midnight_ms
from ingest.day_shape import DEFAULT_SHAPE
from ingest.forecast import PastDay
from ingest.live_forecast import past_days
from ingest.past_nights import PastNight, write_minutes_jsonl
from rehearsal.days import simulate_day


def recorded(tmp_path: Path, name: str, minutes: np.ndarray, before_cents: int) -> Path:
    path = tmp_path / name
    write_minutes_jsonl(PastNight(name, minutes, before_cents, midnight_ms(date(2025, 11, 11))),
                        path)
    return path


@pytest.mark.parametrize("cut", ["last-hour-missing", "late-start", "quiet-minutes"])
def test_a_recorded_night_the_forecast_leaves_out_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, cut: str) -> None:
    night = simulate_day(DEFAULT_SHAPE, 2000, seed=3)
    minutes = night.minutes.copy()
    if cut == "last-hour-missing":  # a recorder stopped at 23:00: a day of 23 h
        minutes[-61:] = 0
    elif cut == "late-start":  # a recorder started at 00:05
        minutes[:5] = 0
    else:  # a smaller shop: one minute in 17 without an order
        minutes[::17] = 0
    path = recorded(tmp_path, f"{cut}.jsonl", minutes, night.before_cents)
    settings = load_settings(env={}, data_dir=tmp_path / "data").replace(past_nights=str(path))
    with caplog.at_level(logging.INFO, logger="gmv"):
        loaded = past_days(settings, None)
    assert len(loaded) == 1
    said = [r.getMessage() for r in caplog.records if path.name in r.getMessage()]
    assert said and "past_night_left_out" in said[0], caplog.text


def test_a_night_listed_twice_counts_once_and_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The same recording twice in GMV_PAST_NIGHTS, a copy under another name, or the data
    dir's own night recorded: each would weigh that year twice and move the forecast."""
    night, other = simulate_day(DEFAULT_SHAPE, 2000, seed=3), simulate_day(DEFAULT_SHAPE, 1500, 4)
    path = recorded(tmp_path, "2025.jsonl", night.minutes, night.before_cents)
    copy = tmp_path / "2025-copy.jsonl"
    copy.write_bytes(path.read_bytes())
    two_years = tmp_path / "2024.jsonl"
    write_minutes_jsonl(PastNight("2024", other.minutes, other.before_cents,
                                  midnight_ms(date(2024, 11, 11))), two_years)
    settings = load_settings(env={}, data_dir=tmp_path / "data")
    once = past_days(settings.replace(past_nights=f"{path}:{two_years}"), None)
    with caplog.at_level(logging.INFO, logger="gmv"):
        twice = past_days(settings.replace(past_nights=f"{path}:{copy}:{two_years}:{path}"), None)
    assert len(twice) == len(once) == 2
    assert sum("past_night_repeated" in r.getMessage() for r in caplog.records) == 2
    last_year = PastDay(night.minutes.copy(), night.before_cents)  # the data dir's own night
    assert len(past_days(settings.replace(past_nights=f"{path}:{two_years}"), last_year)) == 2


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_a_device_is_one_clear_error_not_a_hang(tmp_path: Path, kind: str) -> None:
    """GMV_PAST_NIGHTS=/dev/stdin, a named pipe nobody writes, /dev/zero: `gmv forecast` and the
    worker's loader would wait or read for ever."""
    if kind == "fifo":
        path = tmp_path / "night.jsonl"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    code = ("import sys\nfrom ingest.past_nights import PastNightUnreadable, load_past_night\n"
            "try:\n    load_past_night(sys.argv[1])\nexcept PastNightUnreadable as err:\n"
            "    print(err)\n")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, timeout=30, cwd=Path(__file__).parents[2])
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path} did not end in 30 s")
    assert done.returncode == 0 and str(path) in done.stdout and "not a regular file" in \
        done.stdout, done.stdout + done.stderr


def test_a_recording_of_tonight_itself_is_no_past_night(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A rehearsal replaying night-2026.jsonl with the same file in GMV_PAST_NIGHTS: the
    forecast would read tonight against tonight's own whole day and look perfect."""
    night = simulate_day(DEFAULT_SHAPE, 2000, seed=5)
    settings = load_settings(env={}, data_dir=tmp_path / "data")  # the festival day 2026-11-11
    path = tmp_path / "tonight.jsonl"
    write_minutes_jsonl(PastNight("tonight", night.minutes, night.before_cents,
                                  midnight_ms(date.fromisoformat(settings.festival_date))), path)
    with caplog.at_level(logging.INFO, logger="gmv"):
        loaded = past_days(settings.replace(past_nights=str(path)), None)
    assert loaded == []
    assert any("past_night_left_out" in r.getMessage() and path.name in r.getMessage()
               for r in caplog.records), caplog.text
