"""A request's head is bounded (dashboard/http_limits.py): the push server's parser (httptools)
kept any head a client sent (a 2 MB header was answered 200), so one connection could make a
serving process hold as much as it liked; gunicorn refused a header over 8,190 bytes. A head
past 64 KiB is answered 431 and the connection closed; an ordinary one, and one near the bound,
are answered; the server goes on serving either way."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from dashboard.http_limits import MAX_HEAD_BYTES
from tests.e2e.conftest import Stack, http_status, running_stack


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("head-bound"), worker=False) as stack:
        yield stack


def answer(stack: Stack, head: bytes, trickle: int = 0) -> bytes:
    """What the server answers to `head` (sent in `trickle`-byte pieces, if given)."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        try:
            if trickle:
                for at in range(0, len(head), trickle):
                    connection.sendall(head[at:at + trickle])
            else:
                connection.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all sent
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and not received.startswith(b"HTTP/1.1 200"):
                break
            if received.startswith(b"HTTP/1.1 200") and len(received) > 200:
                break
        return received


@pytest.mark.parametrize("trickle", [0, 4096], ids=["at-once", "in-pieces"])
def test_a_head_past_the_bound_is_refused_and_the_server_goes_on(war_room: Stack,
                                                                  trickle: int) -> None:
    big = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n"
    refused = answer(war_room, big, trickle)
    assert refused.startswith(b"HTTP/1.1 431"), refused[:200]
    many = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-%d: %s\r\n" % (i, b"b" * 100) for i in range(2_000)) + b"\r\n"
    assert answer(war_room, many).startswith(b"HTTP/1.1 431")
    near = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Near: " + \
        b"c" * (MAX_HEAD_BYTES // 2) + b"\r\n\r\n"
    assert answer(war_room, near).startswith(b"HTTP/1.1 200")
    assert http_status(war_room.base_url + "/login") == 200


@pytest.mark.parametrize("where", ["page", "stream", "api", "path"])
def test_bytes_beyond_ascii_in_a_request_line_are_a_bad_request(war_room: Stack,
                                                                where: str) -> None:
    """A request line with raw bytes past ASCII (a scanner's, a badly written link's; browsers
    percent-encode): the parser refuses it, 400, before the app (a2wsgi decodes a query as ASCII
    and would answer 500 with a traceback); the server goes on serving."""
    target = {"page": b"/login?next=/\xe4\xb8\xad\xff", "stream": b"/api/stream?lang=\xff\xfe",
              "api": b"/api/live?x=\xc3\xa9", "path": b"/\xff\xfe/login"}[where]
    head = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + \
        war_room.local_cookie.encode() + b"\r\nConnection: close\r\n\r\n"
    answered = answer(war_room, head)
    status = int(answered.split(b" ", 2)[1])
    assert status == 400, answered[:300]
    logs = "".join(p.read_text(errors="replace") for p in war_room.logs.glob("*.log"))
    assert "Traceback" not in logs and "UnicodeDecodeError" not in logs, logs[-2000:]
    assert http_status(war_room.base_url + "/login") == 200
