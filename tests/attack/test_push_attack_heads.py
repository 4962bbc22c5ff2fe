"""Attacks on /api/stream's request head that held: Content-Length twice, Content-Length with
chunked, a second Host, a Host with a user part, a folded header, a cookie split over two
Cookie fields with a forged one first: refused (400) or the stranger's 403, never a stream."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, running_stack


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-heads"), worker=False) as running:
        yield running


def status_of(stack: Stack, head: str) -> int:
    port = int(stack.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer else 0


def test_hostile_heads_never_open_a_stream(quiet_stack: Stack) -> None:
    stack = quiet_stack
    host = stack.base_url.split("//", 1)[1]
    cookie = stack.local_cookie
    line = "GET /api/stream?lang=en HTTP/1.1\r\n"
    assert status_of(stack, f"{line}Host: {host}\r\nCookie: {cookie}\r\n\r\n") == 200  # the premise
    refused = {
        "two lengths": f"{line}Host: {host}\r\nCookie: {cookie}\r\nContent-Length: 0\r\n"
                       "Content-Length: 40\r\n\r\n",
        "length and chunked": f"{line}Host: {host}\r\nCookie: {cookie}\r\nContent-Length: 5\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "a second host": f"{line}Host: {host}\r\nHost: evil.example\r\nCookie: {cookie}\r\n\r\n",
        "a user part": f"{line}Host: {host}@evil.example\r\nCookie: {cookie}\r\n\r\n",
        "a folded header": f"{line}Host: evil.example\r\n {host}\r\nCookie: {cookie}\r\n\r\n",
        "a forged cookie": f"{line}Host: {host}\r\nCookie: {cookie.split('=')[0]}=forged\r\n\r\n",
        "no host": f"GET /api/stream?lang=en HTTP/1.0\r\nCookie: {cookie}x\r\n\r\n",
    }
    answers = {name: status_of(stack, head) for name, head in refused.items()}
    assert all(status in (400, 403) for status in answers.values()), answers
