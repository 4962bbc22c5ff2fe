"""Attack that held: hundreds of streams opened and dropped at once (reset mid-authorization,
mid-stream, before the head is complete): the serving processes give every connection back and
a stream opened afterwards is served at once."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.frames import encode
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.sse import EventReader

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-churn"), worker=False) as running:
        yield running


def serve_workers(stack: Stack) -> list[int]:
    serve = next(p for p in stack.processes if "serve" in list(p.args) and p.poll() is None)  # type: ignore[arg-type]
    return [int(c) for c in Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()]


def connections_of(pids: list[int], port: int) -> int:
    """The serving processes' open connections on the war room's port (not their Redis
    connections, whose pool grows with the threads that authorize)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] != "0A":  # not LISTEN
                    inodes.add(fields[9])
    count = 0
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = str(fd.readlink())
                count += link.startswith("socket:[") and link[8:-1] in inodes
    return count


def test_streams_opened_and_dropped_by_the_hundred_are_all_given_back(quiet_stack: Stack) -> None:
    stack = quiet_stack
    doc = {"version": 2, "seq": 1, "gmv_cents": 1, "orders": 1,
           "heartbeat_ms": int(time.time() * 1000)}
    stack.client.set(stack.settings.snapshot_key, encode(doc))
    first = EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
    wait_for(lambda: first.snapshots(), 20, "no snapshot")
    first.close()
    workers = serve_workers(stack)
    port = int(stack.base_url.rsplit(":", 1)[1])
    baseline = connections_of(workers, port)
    head = (f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Cookie: {stack.local_cookie}\r\n\r\n").encode()
    for _ in range(3):
        opened = []
        for i in range(150):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(head if i % 3 else head[: len(head) // 2])  # some heads never finish
            opened.append(sock)
        wait_for(lambda: connections_of(workers, port) >= 100, 20,
                 "the serving processes never took the connections")  # what is counted counts
        for i, sock in enumerate(opened):
            if i % 2:  # half reset (RST), half closed
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    try:
        wait_for(lambda: connections_of(workers, port) <= baseline + 1, 30, "")
    except AssertionError:
        raise AssertionError(f"the serving processes kept dropped streams' connections: "
                             f"{connections_of(workers, port)}, {baseline} before") from None
    late = EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
    try:
        assert late.status == 200
        wait_for(lambda: late.snapshots(), 5, "a stream after the churn was not served")
    finally:
        late.close()
    assert serve_workers(stack) == workers, "a serving process died"
