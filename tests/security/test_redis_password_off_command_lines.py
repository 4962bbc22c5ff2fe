"""Issue #23, finding B: the processes that `gmv demo` and `gmv ingest --workers` start got
`--redis <URL with its password>` on their command line, which every local user reads in
/proc/PID/cmdline. They get it in REDIS_URL now (a process's environment is its owner's alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.redis_server import EmbeddedRedis, free_loopback_port
from tests.conftest import wait_for

PASSWORD = "night-owl-s3cret"


@pytest.fixture(scope="module")
def password_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=free_loopback_port(),
                       extra_args=("--requirepass", PASSWORD),
                       credentials=f":{PASSWORD}") as server:
        yield server.url


def command_lines_below(pid: int) -> dict[int, str]:
    """The command line of every process descending from `pid` (children, grandchildren)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            parents[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    below, found = {pid}, True
    while found:
        found = False
        for child, parent in parents.items():
            if parent in below and child not in below:
                below.add(child)
                found = True
    lines = {}
    for child in below - {pid}:
        try:
            lines[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return lines


def started(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`command` with the Redis URL in its environment, as a process manager would start it."""
    return subprocess.Popen([sys.executable, "-m", "gmv.cli", *command, "-q"],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stopped(process: subprocess.Popen[bytes], signum: int) -> None:
    process.send_signal(signum)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def running(lines: dict[int, str], *commands: str) -> bool:
    return all(any(f"gmv.cli {c}" in line for line in lines.values()) for c in commands)


def test_worker_processes_get_the_redis_password_in_their_environment_only(
        password_redis: str, tmp_path: Path) -> None:
    supervisor = started(["ingest", "--workers", "2"],
                         {"REDIS_URL": password_redis, "GMV_PARTITIONS": "2",
                          "GMV_DATA_DIR": str(tmp_path / "data")})
    try:
        wait_for(lambda: running(command_lines_below(supervisor.pid), "ingest --worker",
                                 "combine"), 60, "the workers never started")
        lines = command_lines_below(supervisor.pid)
    finally:
        stopped(supervisor, signal.SIGTERM)
    assert not [line for line in lines.values() if PASSWORD in line], lines


def test_the_demos_services_get_the_redis_password_in_their_environment_only(
        password_redis: str, tmp_path: Path) -> None:
    demo = started(["demo", "--peak-ops", "50"],
                   {"REDIS_URL": password_redis, "GMV_DATA_DIR": str(tmp_path / "data"),
                    "GMV_WEB_PORT": str(free_loopback_port()), "GMV_WEB_WORKERS": "1"})
    try:
        wait_for(lambda: running(command_lines_below(demo.pid), "ingest", "watchdog", "serve",
                                 "simulate"), 90, "the demo's services never started")
        lines = command_lines_below(demo.pid)
    finally:
        stopped(demo, signal.SIGINT)
    assert not [line for line in lines.values() if PASSWORD in line], lines
