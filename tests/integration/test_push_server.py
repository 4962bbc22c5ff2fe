"""The push server's own ends of a stream, in this process (uvicorn serving the real app on a
real Redis) so the hub can be watched: a stream whose screen stopped reading is dropped, not
left holding its connection and buffer; a stream asked for while the server stops is refused."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import uvicorn

from common.redis_server import EmbeddedRedis, connect, free_loopback_port
from common.settings import Settings, load_settings
from dashboard import http_limits
from dashboard import hub as hub_module
from dashboard.app import create_app
from dashboard.frames import encode
from dashboard.http_limits import BoundedHttpToolsProtocol
from dashboard.local_key import local_key
from dashboard.push import PushApp, _Server, push_app
from tests.conftest import wait_for
from tests.e2e.conftest import local_cookie

STREAM = "/api/stream?lang=en"


@dataclass
class Served:
    port: int
    app: PushApp
    server: _Server
    settings: Settings
    client: redis.Redis

    def publish(self, seq: int, pad: int) -> None:
        raw = encode({"version": 2, "seq": seq, "gmv_cents": seq, "orders": seq,
                      "position": f"{seq}-0", "heartbeat_ms": int(time.time() * 1000),
                      "note": str(seq % 10) * pad})
        self.client.set(self.settings.snapshot_key, raw)
        self.client.publish(self.settings.snapshot_channel, raw)


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A Redis of its own (the session's is shared with tests that cut, pause and reconfigure
    it), the app, and uvicorn serving it on a thread."""
    monkeypatch.setattr(hub_module, "STALLED_S", 1.0)
    with EmbeddedRedis(tmp_path / "redis") as own:
        settings = load_settings(env={}, redis_url=own.url, data_dir=tmp_path / "data")
        yield from _serve(settings, connect(own.url))


def _serve(settings: Settings, redis_client: redis.Redis) -> Iterator[Served]:
    local_key(settings.data_dir)
    app = push_app(create_app(settings), settings)
    port = free_loopback_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                    http=BoundedHttpToolsProtocol, log_level="warning"))
    thread = threading.Thread(target=server.run, name="push-server", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the push server never started")
    yield Served(port, app, server, settings, redis_client)
    server.should_exit = True
    thread.join(30)


def connections_held(local_port: int, remote_port: int) -> int:
    """Sockets this process still holds from `local_port` to `remote_port` (an orphaned one,
    dropped and left to the kernel, has no inode)."""
    held = {Path(f"/proc/self/fd/{fd.name}").resolve().name for fd in Path("/proc/self/fd").iterdir()}
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port \
                and inode != "0" and f"socket:[{inode}]" in held:
            count += 1
    return count


def stream_request(port: int, cookie: str) -> bytes:
    return (f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n").encode()


def test_a_stream_whose_screen_stopped_reading_is_dropped(served: Served) -> None:
    served.publish(1, 10)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.connect(("127.0.0.1", served.port))
        stalled.sendall(stream_request(served.port, local_cookie(served.settings.data_dir)))
        client_port = stalled.getsockname()[1]
        wait_for(lambda: served.app.hub.streams, 30, "the stream never opened")
        seq = 2
        # Frames of 200 KB until the stream is caught waiting in a send, then ended (STALLED_S
        # is 1 s here): the screen reads none of them.
        while served.app.hub.streams:
            served.publish(seq, 200_000)
            seq += 1
            wait_for(lambda s=seq: served.app.hub.publications >= s - 1 or not served.app.hub.streams,
                     60, f"publication {seq - 1} was never heard (heard: "
                     f"{served.app.hub.publications}, streams: {len(served.app.hub.streams)})")
            assert seq < 2_000, "the stream was never ended"
        wait_for(lambda: connections_held(served.port, client_port) == 0, 30,
                 "the ended stream's connection is still held, waiting to hand over its buffer")
    finally:
        stalled.close()


def test_a_stream_asked_for_while_the_server_stops_is_refused(served: Served) -> None:
    served.publish(1, 10)
    served.app.close_streams()  # what the server's shutdown does first
    request = urllib.request.Request(f"http://127.0.0.1:{served.port}{STREAM}",
                                     headers={"Cookie": local_cookie(served.settings.data_dir)})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 503 and refused.value.headers["Retry-After"]


def test_a_head_that_never_comes_whole_is_dropped_and_a_stream_is_not(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections that send nothing, or half a head (slowloris), are closed after
    HEAD_WITHIN_S; an open stream, whose head came long ago, goes on."""
    monkeypatch.setattr(http_limits, "HEAD_WITHIN_S", 1.0)
    served.publish(1, 10)
    streaming = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    silent = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    trickling = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    try:
        streaming.sendall(stream_request(served.port, local_cookie(served.settings.data_dir)))
        assert streaming.recv(65536).startswith(b"HTTP/1.1 200")
        trickling.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for connection in (silent, trickling):
            assert connection.recv(65536) == b"", "a connection without a whole head was answered"
        heard = served.app.hub.publications
        served.publish(2, 10)
        wait_for(lambda: served.app.hub.publications > heard, 30, "the publication was not heard")
        assert b"event: " in streaming.recv(65536), "the stream was dropped with the idle ones"
    finally:
        for connection in (streaming, silent, trickling):
            connection.close()


def test_a_stream_asked_for_with_head_is_refused(served: Served) -> None:
    """HEAD would open a stream that writes nothing (its body is dropped), never seen stalled."""
    request = urllib.request.Request(f"http://127.0.0.1:{served.port}{STREAM}", method="HEAD",
                                     headers={"Cookie": local_cookie(served.settings.data_dir)})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET"
    assert not served.app.hub.streams
