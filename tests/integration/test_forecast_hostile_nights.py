"""Recorded past nights that are not nights (GMV_PAST_NIGHTS: bytes, a pipe, a directory, one
of them beside a good one): the worker counts the night and publishes a forecast, saying in its
log which file it could not read; `gmv forecast` is one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.redis_server import connect
from common.settings import Settings
from ingest.contract import midnight_ms
from ingest.day_shape import DEFAULT_SHAPE
from ingest.forecast import METHOD_LAST_YEAR
from ingest.past_nights import PastNight, write_minutes_jsonl
from ingest.worker import run_worker
from rehearsal.days import simulate_day
from tests.integration.test_forecast import cli, last_year_set, night  # noqa: F401 - fixtures


def hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "bytes":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "pipe":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["bytes", "pipe", "directory"])
def test_a_file_that_is_no_night_never_stops_the_worker_and_is_one_line_from_the_cli(
        night: tuple[Settings, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path,  # noqa: F811
        redis_server: Any, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    counted, _ = night
    good = tmp_path / "2024.jsonl"
    older = simulate_day(DEFAULT_SHAPE, 180, seed=8)
    write_minutes_jsonl(PastNight("2024", older.minutes, older.before_cents,
                                  midnight_ms(date(2024, 11, 11))), good)
    bad = hostile(tmp_path, kind)
    data = tmp_path / "data"
    shutil.copytree(counted.data_dir, data)
    listed = f"{good}{os.pathsep}{bad}"
    settings = counted.replace(data_dir=data, past_nights=listed,
                               orders_stream=f"gmv:orders:hostile-{kind}")
    monkeypatch.setenv("GMV_PAST_NIGHTS", listed)
    code, out = cli(settings, capsys, "forecast", "--json")
    assert code == 2 and len(out.strip().splitlines()) == 1 and bad.name in out, out

    client = connect(redis_server.url)
    run_worker(client, settings, until_idle=True)
    logged = capsys.readouterr()
    live = json.loads(client.get(settings.snapshot_key) or b"{}")
    assert live["forecast"]["status"] == "ok" and live["forecast"]["method"] == METHOD_LAST_YEAR
    assert any("past_nights_unreadable" in line and bad.name in line
               for line in (logged.out + logged.err).splitlines()), logged
