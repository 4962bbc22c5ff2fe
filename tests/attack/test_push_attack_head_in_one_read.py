"""Attack: a head past the 64 KiB bound (dashboard/http_limits.py) that arrives whole in one
read. The bound is checked after httptools has parsed what was read: a head that is already
complete by then is never counted, and is answered (here 200, a 150 KiB header that gunicorn
refused at 8 KiB). docs/operating.md promises 431 for any head past 64 KiB; the security test
sends 2 MB, which never fits one read.

Fixed: the head's part of each read is counted before the parser sees it (431 here now)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

from dashboard.http_limits import MAX_HEAD_BYTES
from tests.e2e.conftest import Stack, running_stack


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("head-one-read"), worker=False) as stack:
        yield stack


def first_line(stack: Stack, head: bytes) -> bytes:
    port = int(stack.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(head)
        received = b""
        while b"\r\n" not in received and (chunk := connection.recv(65536)):
            received += chunk
        return received.split(b"\r\n", 1)[0]


def test_a_head_past_the_bound_in_one_read_is_refused(war_room: Stack) -> None:
    for size in (100_000, 150_000, 200_000):
        head = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
        assert len(head) > MAX_HEAD_BYTES
        line = first_line(war_room, head)
        assert line.startswith(b"HTTP/1.1 431"), (size, line)
