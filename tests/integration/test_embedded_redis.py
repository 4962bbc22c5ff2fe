"""The embedded redis-server starts, serves, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from common.redis_server import EmbeddedRedis, connect
from tests.conftest import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_it_starts_serves_and_stops_without_a_trace(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        assert server.process is not None
        pid = server.process.pid
        client = connect(server.url)
        client.xadd("s", {"data": b"x"})
        assert client.xlen("s") == 1
    assert not alive(pid)
    assert not (tmp_path / "redis" / "server.url").exists()


def test_its_data_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        connect(server.url).xadd("s", {"data": b"kept"})
    with EmbeddedRedis(tmp_path / "redis") as server:
        assert connect(server.url).xrange("s")[0][1] == {b"data": b"kept"}


def test_it_dies_with_a_command_that_is_killed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = subprocess.Popen(
        [sys.executable, "-m", "gmv.cli", "simulate", "--data", str(data), "--seed", "1",
         "--peak-ops", "10", "--duration", "1h", "-q"])
    url_file = data / "redis" / "server.url"
    wait_for(url_file.exists, 60, "the embedded redis-server never came up")
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children").read_text().split()
    command.send_signal(signal.SIGKILL)
    command.wait()
    assert children
    wait_for(lambda: not any(alive(int(pid)) for pid in children), 30,
             "the redis-server outlived the command that started it")


def test_ctrl_c_stops_the_command_and_its_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = subprocess.Popen(
        [sys.executable, "-m", "gmv.cli", "simulate", "--data", str(data), "--peak-ops", "10",
         "--duration", "1h"], stderr=subprocess.PIPE, text=True)
    url_file = data / "redis" / "server.url"
    wait_for(url_file.exists, 60, "the embedded redis-server never came up")
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children").read_text().split()
    command.send_signal(signal.SIGINT)
    _, stderr = command.communicate(timeout=30)
    assert command.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert "event=redis_stopped" in stderr
    assert not any(alive(int(pid)) for pid in children)
