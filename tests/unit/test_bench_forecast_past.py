"""`python -m bench.forecast --past` on recorded nights, one of them started at 00:05: that night
is left out with a line saying why, never an AssertionError's traceback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench.forecast import main
from ingest.contract import midnight_ms
from ingest.day_shape import DEFAULT_SHAPE
from ingest.past_nights import PastNight, write_minutes_jsonl
from rehearsal.days import simulate_day


def test_a_recorded_night_started_late_is_left_out_and_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for year, seed in ((2026, 1), (2025, 2), (2024, 3)):
        night = simulate_day(DEFAULT_SHAPE, 2000, seed)
        minutes = night.minutes.copy()
        if year == 2025:
            minutes[:5] = 0  # its recorder started at 00:05
        path = tmp_path / f"{year}.jsonl"
        write_minutes_jsonl(PastNight(str(year), minutes, night.before_cents,
                                      midnight_ms(date(year, 11, 11))), path)
        paths.append(str(path))
    main(["--past", *paths])
    said = capsys.readouterr()
    assert "2025.jsonl: left out: it has no GMV in its first 5 minutes" in said.err
    assert "1 recorded nights (2026.jsonl)" in said.out
