"""Attack: a screen that stops reading its stream (a wall PC frozen, a tab suspended, a hostile
client) while the snapshots keep coming. Its stream waits in `send` for the socket to drain
(uvicorn's flow control) and never sees the server ending it: SIGTERM of `gmv serve`, which
ends the reading streams at once (dashboard/push.py `_Server.shutdown`), is held by it until
gunicorn's graceful timeout kills the worker.

Fixed: a stream stuck in a send is cancelled when the server stops (and after 30 s anyway)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.redis_server import free_loopback_port
from dashboard.frames import encode
from tests.conftest import wait_for
from tests.e2e.conftest import CLI, Stack, http_status, running_stack
from tests.e2e.sse import EventReader

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-stall"), worker=False) as running:
        yield running


def publish(stack: Stack, seq: int, pad: int) -> None:
    doc = {"version": 2, "seq": seq, "gmv_cents": seq, "orders": seq,
           "heartbeat_ms": int(time.time() * 1000), "note": str(seq % 10) * pad}
    raw = encode(doc)
    stack.client.set(stack.settings.snapshot_key, raw)
    stack.client.publish(stack.settings.snapshot_channel, raw)


def test_a_screen_that_stopped_reading_does_not_hold_the_stop(quiet_stack: Stack,
                                                              tmp_path: Path) -> None:
    stack = quiet_stack
    port = free_loopback_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "1", *stack.where],
                              stdout=log, stderr=log, env={**os.environ, **stack.env})
    base = f"http://127.0.0.1:{port}"
    stalled = socket.socket()
    try:
        wait_for(lambda: http_status(base + "/login") == 200, 60, "the dashboard never answered")
        publish(stack, 1, 10)
        reading = EventReader(base + STREAM, {"Cookie": stack.local_cookie})
        assert reading.status == 200
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Cookie: {stack.local_cookie}\r\n\r\n".encode())
        wait_for(lambda: b"200" in stalled.recv(12, socket.MSG_PEEK), 10, "the stream never opened")
        # Never read again: big snapshots fill the socket's buffers and the server's.
        for seq in range(2, 14):
            publish(stack, seq, 2_000_000)
            wait_for(lambda seq=seq: any(d["seq"] == seq for d in reading.snapshots()), 30,
                     "the reading stream missed a snapshot")
        server.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert reading.ended.wait(10), "the reading stream was not ended"
        server.wait(timeout=30)
        took = time.monotonic() - stopping
        assert took < 2.0, f"the server took {took:.1f} s to stop (exit {server.returncode})"
    finally:
        stalled.close()
        if server.poll() is None:
            server.kill()
