"""`gmv demo` as a newcomer meets it: the war room's address stays in sight (progress goes to the
log files), and Ctrl-C stops every process it started, with no error line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from common.redis_server import free_loopback_port
from tests.conftest import wait_for
from tests.e2e.conftest import local_cookie


def _live_orders(base: str, data: Path) -> int:
    """As this machine's browser, once it opened the link the demo printed."""
    try:
        request = urllib.request.Request(base + "/api/live",
                                         headers={"Cookie": local_cookie(data)})
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(json.loads(response.read()).get("orders", 0))
    except (OSError, AssertionError):  # not served yet, or no key made yet
        return 0


def _processes_on(data: Path) -> list[str]:
    """Every process whose command line names the demo's data dir (its services, its Redis)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(data) in line:
                found.append(f"{proc.name}: {line[:120]}")
    return found


def test_the_demo_keeps_its_address_in_sight_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_loopback_port()
    env = {**os.environ, "GMV_WEB_PORT": str(port), "GMV_DATA_DIR": str(data),
           "GMV_WEB_WORKERS": "2"}
    env.pop("REDIS_URL", None)
    demo = subprocess.Popen([sys.executable, "-m", "gmv.cli", "demo", "--peak-ops", "300"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _live_orders(base, data) > 0, 180, "the demo's war room never counted an order")
        wait_for(lambda: "event=progress" in (data / "logs" / "worker.log").read_text(), 60,
                 "the worker's progress lines are not in its log file")
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends (to the demo: its children have
        out, err = demo.communicate(timeout=120)  # sessions of their own)
    finally:
        if demo.poll() is None:
            demo.kill()
    printed, said = out.decode(), err.decode()
    assert demo.returncode == 0, said
    assert f"The war room: http://127.0.0.1:{port}/?key=" in printed and "Local only" in printed
    assert "Stopped:" in printed
    assert "error" not in said.lower() and "Traceback" not in said, said
    assert "event=" not in printed + said  # the log lines went to DATA/logs/
    assert "event=demo_started" in (data / "logs" / "demo.log").read_text()
    wait_for(lambda: not _processes_on(data), 30, f"left running: {_processes_on(data)}")


def test_the_demo_says_its_port_is_taken_instead_of_printing_an_address(tmp_path: Path) -> None:
    """Someone else holds the port (a squatter that may even answer HTTP): the demo's dashboard
    dies at start, and the demo says so in one line naming the port, prints no address (it would
    lead to the squatter) and leaves nothing running."""
    data = tmp_path / "data"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**os.environ, "GMV_WEB_PORT": str(port), "GMV_DATA_DIR": str(data),
               "GMV_WEB_WORKERS": "1"}
        env.pop("REDIS_URL", None)
        demo = subprocess.run([sys.executable, "-m", "gmv.cli", "demo", "--peak-ops", "50"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 1, demo.stderr
    (line,) = demo.stderr.strip().splitlines()
    assert line.startswith("gmv demo: error: the dashboard did not start on port "
                           f"{port}") and "not free" in line, line
    assert "The war room" not in demo.stdout and "http://" not in demo.stdout, demo.stdout
    wait_for(lambda: not _processes_on(data), 30, f"left running: {_processes_on(data)}")
