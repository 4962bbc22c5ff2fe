"""The committed sample night is exactly what its recorded command makes."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gmv.cli import main

SAMPLE = Path(__file__).parents[2] / "sample_data" / "night-2026-11-11.jsonl.gz"


def test_the_sample_is_reproduced_byte_for_byte_by_its_command(tmp_path: Path) -> None:
    labels = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())
    args = shlex.split(labels["command"])[1:]
    out = args.index("--out") + 1
    args[out] = str(tmp_path / SAMPLE.name)
    assert main([*args, "-q"]) == 0
    assert (tmp_path / SAMPLE.name).read_bytes() == SAMPLE.read_bytes()
    assert (tmp_path / "night-2026-11-11.labels.json").read_text().replace(
        str(tmp_path / SAMPLE.name), "OUT") == SAMPLE.with_name(
        "night-2026-11-11.labels.json").read_text().replace(str(SAMPLE.relative_to(
            SAMPLE.parents[1])), "OUT")
    assert labels["truth"]["sent"] == 78_996
    assert {i["kind"] for i in labels["incidents"]} >= {"oversell", "payment_outage"}
