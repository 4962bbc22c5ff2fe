"""A bad argument gets one clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def gmv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gmv.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, says", [
    (["simulate", "--peak-ops", "0"], "must be greater than 0"),
    (["simulate", "--peak-ops", "many"], "is not a number"),
    (["simulate", "--seed", "-1"], "is not a whole number >= 0"),
    (["simulate", "--start", "soon"], "is not a duration"),
    (["simulate", "--incident", "meteor@1m"], "is not an incident"),
    (["simulate", "--incident", "device_dark:region=GD"], "targets a device"),
    (["simulate", "--day", "11/11"], "is not a date"),
    (["simulate", "--speed", "2", "--max"], "not allowed with argument"),
    (["demo", "--incident", "meteor@1m"], "is not an incident"),
    (["replay", "missing.jsonl"], "no such file: missing.jsonl"),
    (["replay"], "the following arguments are required: FILE"),
    (["fly"], "invalid choice"),
])
def test_a_bad_argument_prints_one_line(args: list[str], says: str) -> None:
    result = gmv(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "usage:" not in line and line.strip()
             and not line.startswith(" ")]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_in_the_environment_is_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "gmv.cli", "replay", "x.jsonl"],
                            capture_output=True, text=True,
                            env={"GMV_PUBLISH_BATCH_SIZE": "lots", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "GMV_PUBLISH_BATCH_SIZE='lots' is not an integer" in \
        result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_redis_is_one_line(tmp_path) -> None:
    (tmp_path / "n.jsonl").write_text("{}\n")
    result = gmv("replay", str(tmp_path / "n.jsonl"), "--redis", "redis://127.0.0.1:1/0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("gmv replay: error:")
