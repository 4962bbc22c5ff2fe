"""A bad argument gets one clear line, never a traceback."""

from __future__ import annotations

import json
import os
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
    (["forecast", "--at", "soon"], "not an ISO time"),
    (["forecast", "--at", "2026-13-40"], "not an ISO time"),
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


def test_a_trusted_proxy_that_is_no_address_is_one_line(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "gmv.cli", "summary", "--data", str(tmp_path)],
                            capture_output=True, text=True, timeout=60,
                            env={"GMV_TRUSTED_PROXIES": "127.0.0.1, proxy.example",
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "GMV_TRUSTED_PROXIES: 'proxy.example' is not an address or network" in line


def test_a_reader_that_stops_early_ends_gmv_quietly(tmp_path) -> None:
    """`gmv audit | head -1`: no "Broken pipe", no traceback, the status of a command that the
    closed pipe's SIGPIPE ended."""
    from dashboard.accounts import Accounts

    accounts = Accounts(tmp_path)
    for _ in range(300):  # ~130 KB of table: more than a pipe holds, so gmv is still writing
        accounts.record("ada", "export", "10.0.0.1", label="x" * 400)
    reading = subprocess.Popen([sys.executable, "-m", "gmv.cli", "audit", "-q", "--data",
                                str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert reading.stdout is not None and reading.stderr is not None
    assert "ada" in reading.stdout.readline()
    reading.stdout.close()
    said = reading.stderr.read()
    assert reading.wait(timeout=60) == 141 and said == ""


@pytest.mark.parametrize("command", ["guesses", "serve"])
def test_a_bad_closing_time_for_the_guessing_game_is_one_line(tmp_path, command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gmv.cli", command, "--data", str(tmp_path)],
                            capture_output=True, text=True, timeout=60,
                            env={"GMV_GUESSES_CLOSE_AT": "tonight", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "GMV_GUESSES_CLOSE_AT='tonight' is not an ISO 8601 time" in line


def test_an_unreachable_redis_is_one_line(tmp_path) -> None:
    (tmp_path / "n.jsonl").write_text("{}\n")
    result = gmv("replay", str(tmp_path / "n.jsonl"), "--redis", "redis://127.0.0.1:1/0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("gmv replay: error:")


def test_serving_beyond_this_machine_without_users_is_refused_in_one_line(tmp_path) -> None:
    result = gmv("serve", "--host", "0.0.0.0", "--data", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "--host 0.0.0.0 without users" in line and "gmv user add" in line


@pytest.mark.parametrize("args, says", [
    (["user", "add", "Bad Name", "--role", "viewer"], "is not a user name"),
    (["user", "add", "mei", "--role", "boss"], "invalid choice"),
    (["user", "add", "mei", "--role", "viewer"], "at least 10 characters"),
    (["user", "remove", "nobody"], "no user 'nobody'"),
    (["kiosk-link", "--revoke", "nope"], "no live kiosk link 'nope'"),
])
def test_user_and_kiosk_mistakes_are_one_line(tmp_path, args: list[str], says: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gmv.cli", *args, "--data", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, input="short\n")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()
             and "usage:" not in line and not line.startswith(" ")]
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_users_are_added_changed_listed_and_removed_and_each_change_is_audited(tmp_path) -> None:
    where = ["--data", str(tmp_path)]
    for role in ("viewer", "analyst"):
        done = subprocess.run([sys.executable, "-m", "gmv.cli", "user", "add", "mei", "--role", role,
                               *where], capture_output=True, text=True, timeout=60,
                              input="a long enough password\n")
        assert done.returncode == 0, done.stderr
    listed = gmv("user", "list", "--json", *where)
    assert json.loads(listed.stdout) == [
        {"name": "mei", "role": "analyst", "created_ms": json.loads(listed.stdout)[0]["created_ms"]}]
    assert gmv("user", "remove", "mei", *where).returncode == 0
    audit = json.loads(gmv("audit", "--json", *where).stdout)
    assert [(e["action"], e["what"]) for e in audit] == [
        ("user_set", {"user": "mei", "role": "viewer"}), ("user_set", {"user": "mei", "role": "analyst"}),
        ("user_removed", {"user": "mei"})]
    assert all(e["source"] == "cli" and e["at"].endswith("+08:00") for e in audit)


def _subcommands() -> list[str]:
    from gmv.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.choices and isinstance(a.choices, dict)]
    return sorted(commands.choices)


@pytest.mark.parametrize("command", [[], *([c] for c in _subcommands())])
def test_help_works_for_gmv_and_every_command(command: list[str]) -> None:
    """`gmv --help` crashed on a '%' in a command's help (argparse formats them): issue #23."""
    from gmv.cli import main

    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
