"""The webhook against a real local HTTP server: retried until it answers, given up after its
retries, never waited for by whoever raises the alert; and the worker's notices for a night."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from common.redis_server import free_loopback_port
from common.settings import Settings
from ingest.detect.notify import Webhook
from ingest.worker import run_worker
from rehearsal.replay import replay
from tests.conftest import wait_for
from tests.sample import SAMPLE

ALERT = {"kind": "oversell", "dimension": "item=i1", "severity": "critical", "message": "m"}


class ChatTool:
    """A local endpoint that fails its first `failures` requests with a 503 and can be held."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.released = threading.Event()
        self.released.set()
        self.received = threading.Condition()
        tool = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                tool.released.wait(timeout=30)
                with tool.received:
                    tool.attempts += 1
                    failing = tool.attempts <= tool.failures
                    if not failing:
                        tool.bodies.append(json.loads(body))
                    tool.received.notify_all()
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_loopback_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, bodies: int, timeout_s: float = 30) -> None:
        with self.received:
            assert self.received.wait_for(lambda: len(self.bodies) >= bodies, timeout=timeout_s), \
                f"{len(self.bodies)} of {bodies} notices after {self.attempts} attempts"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def chat() -> Iterator[ChatTool]:
    tool = ChatTool()
    yield tool
    tool.close()


def test_a_failing_endpoint_is_retried_until_it_answers(chat: ChatTool) -> None:
    chat.failures = 2
    hook = Webhook(chat.url, timeout_s=2, retries=3)
    hook.notify("firing", ALERT)
    chat.wait_for(1)
    hook.close()
    assert chat.attempts == 3 and chat.bodies == [{"event": "firing", "alert": ALERT}]
    assert (hook.sent, hook.failed) == (1, 0)


def test_it_gives_up_after_its_retries_and_goes_on_with_the_next(chat: ChatTool) -> None:
    chat.failures = 2
    hook = Webhook(chat.url, timeout_s=2, retries=1)
    hook.notify("firing", ALERT)
    hook.notify("resolved", ALERT)
    chat.wait_for(1)
    hook.close()
    assert chat.attempts == 3 and [b["event"] for b in chat.bodies] == ["resolved"]
    assert (hook.sent, hook.failed) == (1, 1)


def test_a_hanging_endpoint_times_out_and_never_holds_up_the_caller(chat: ChatTool) -> None:
    chat.released.clear()  # the endpoint accepts and does not answer
    hook = Webhook(chat.url, timeout_s=0.3, retries=0)
    for i in range(50):  # all queued while the first POST hangs
        hook.notify("firing", {**ALERT, "dimension": f"item=i{i}"})
    assert chat.bodies == []
    # The held POST times out and is given up; the others wait their turn behind it.
    wait_for(lambda: hook.failed == 1, 30, "the held POST never timed out")
    chat.released.set()
    chat.wait_for(49)
    hook.close()
    assert (hook.sent, hook.failed) == (49, 1)



def test_the_worker_tells_the_webhook_every_change_it_stores(
        chat: ChatTool, redis_client: redis.Redis, settings: Settings) -> None:
    settings = settings.replace(alert_webhook_url=chat.url)
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)  # closing it delivers what is queued
    stored = json.loads((settings.data_dir / "alerts.json").read_text())["alerts"]
    assert stored, "the sample night raises alerts"
    told = {(b["alert"]["key"], b["event"]) for b in chat.bodies}
    assert {(a["key"], a["state"]) for a in stored} <= told
    assert all(b["alert"]["kind"] and "start" in b["alert"] for b in chat.bodies)
