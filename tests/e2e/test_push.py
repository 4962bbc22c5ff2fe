"""The push (issue #28): each snapshot reaches every open stream as it is published, read from
Redis once per serving process; the stream is open to whom /api/live is, and to nobody else; a
page that loses it polls and says so, and takes it back; a stopping server ends its streams."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from playwright.sync_api import Page, expect

from common.stopping import STOP_WITHIN_S
from dashboard.frames import encode, live_delta
from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import (
    CLI,
    Stack,
    http_status,
    let_in,
    publish_sample,
    running_stack,
)
from tests.e2e.sse import EventReader, publish_snapshot
from tests.sample import sample_payloads
from tests.unit.test_frames import snapshot_pairs

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`gmv serve` (two workers) without a worker: the tests publish the snapshots by hand."""
    with running_stack(tmp_path_factory.mktemp("push"), worker=False) as running:
        yield running


def snapshot(seq: int, start_s: int) -> dict[str, Any]:
    """A snapshot shaped as the worker's: headline numbers and a series that moves on."""
    return {"version": 2, "seq": seq, "gmv_cents": 1_000 * seq, "orders": 3 * seq,
            # A commit each (a publication whose position is unchanged is a beat and waits).
            "position": f"{1_794_326_400_000 + start_s * 1000 + seq}-0",
            "heartbeat_ms": int(time.time() * 1000), "by_device": {"pc": {"orders": seq}},
            "series": {"start": f"s{start_s}", "start_ms": start_s * 1000,
                       "orders": [(start_s + i) % 7 for i in range(300)],
                       "gmv_cents": [(start_s + i) * 11 for i in range(300)]}}


def publish(stack: Stack, doc: dict[str, Any]) -> None:
    publish_snapshot(stack.client, stack.settings, doc)


def gets(stack: Stack) -> int:
    stats = stack.client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0)) + \
        int(stats.get("cmdstat_mget", {}).get("calls", 0))


def test_the_stream_is_open_to_whom_the_snapshot_is_and_says_the_same_headers(
        quiet_stack: Stack) -> None:
    stack = quiet_stack
    publish(stack, snapshot(1, 1_000))
    url = stack.base_url + STREAM
    stranger = EventReader(url)
    assert stranger.status == 403 and b"local key" in stranger.body
    assert EventReader(url, {"Cookie": stack.local_cookie, "Host": "evil.example"}).status == 400
    assert EventReader(stack.base_url + "/api/stream?lang=xx",
                       {"Cookie": stack.local_cookie}).status == 400
    reader = EventReader(url, {"Cookie": stack.local_cookie})
    try:
        assert reader.status == 200
        assert reader.response.getheader("Content-Type", "").startswith("text/event-stream")
        live = EventReader(stack.base_url + "/api/live", {"Cookie": stack.local_cookie})
        for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                       "Referrer-Policy"):
            assert reader.response.getheader(header) == live.response.getheader(header), header
        wait_for(lambda: reader.snapshots(), 10, "the stream sent no snapshot")
        assert reader.snapshots()[0] == snapshot(1, 1_000) | {
            "heartbeat_ms": reader.snapshots()[0]["heartbeat_ms"]}
    finally:
        reader.close()


def test_every_publication_reaches_every_stream_read_once_per_process(quiet_stack: Stack) -> None:
    stack = quiet_stack
    readers = [EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
               for _ in range(12)]
    try:
        assert all(r.status == 200 for r in readers)
        # The serving processes listen (one read each per publication; a process listens from
        # its first stream on), not each stream.
        listeners = lambda: stack.client.pubsub_numsub(stack.settings.snapshot_channel)[0][1]  # noqa: E731
        wait_for(lambda: listeners() >= 1, 20, "no serving process listened")
        assert listeners() <= 2
        published = [snapshot(seq, 2_000 + seq // 3) for seq in range(1, 41)]
        before, started = gets(stack), time.monotonic()
        for doc in published:
            publish(stack, doc)
            # The next once every stream has this one (as fast as the machine goes, never
            # hoping it keeps up): each then holds the snapshot the next change follows.
            wait_for(lambda doc=doc: all(r.snapshots() and r.snapshots()[-1] == doc
                                         for r in readers), 20, "a stream missed a snapshot")
        wait_for(lambda: all(r.snapshots() and r.snapshots()[-1] == published[-1] for r in readers),
                 20, "a stream never reached the last snapshot")
        elapsed = time.monotonic() - started
        # Beyond the publications heard, each process reads the key only when a second passes
        # without one: never once per stream and snapshot (12 x 40).
        assert gets(stack) - before <= 2 * (elapsed + 2), (gets(stack) - before, elapsed)
        for reader in readers:
            rebuilt = reader.snapshots()
            assert all(doc in published or doc["seq"] < 1 for doc in rebuilt[1:]), \
                "a stream showed a snapshot that was never published"
            seqs = [doc["seq"] for doc in rebuilt[1:]]
            assert seqs == sorted(seqs), "a stream went back in time"
            # Most frames are changes, a fraction of the whole snapshot.
            deltas = sorted(len(json.dumps(d)) for d in reader.named("delta"))
            assert len(deltas) >= len(published) // 2
            assert deltas[len(deltas) // 2] < len(encode(published[-1])) / 4
    finally:
        for reader in readers:
            reader.close()


def test_a_stopping_server_ends_its_streams_at_once(quiet_stack: Stack, tmp_path: Path) -> None:
    """A stream never ends by itself: the server ends them when it stops, within the war room's
    stopping promise, instead of waiting out gunicorn's graceful timeout."""
    stack = quiet_stack
    from common.redis_server import free_loopback_port

    port = free_loopback_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "2", *stack.where],
                              stdout=log, stderr=log, env={**os.environ, **stack.env})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_status(base + "/login") == 200, 60, "the dashboard never answered")
        readers = [EventReader(base + STREAM, {"Cookie": stack.local_cookie}) for _ in range(6)]
        assert all(r.status == 200 for r in readers)
        wait_for(lambda: all(r.events for r in readers), 20, "the streams sent nothing")
        server.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        server.wait(timeout=STOP_WITHIN_S + 5)
        assert time.monotonic() - stopping < STOP_WITHIN_S
        assert all(r.ended.wait(5) for r in readers)
    finally:
        if server.poll() is None:
            server.kill()


def _serve_workers(stack: Stack) -> list[int]:
    serve = next(p for p in stack.processes if "serve" in p.args and p.poll() is None)
    children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()
    return [int(child) for child in children]


def test_the_big_screen_is_pushed_polls_when_the_push_is_lost_and_takes_it_back(
        fresh_stack: Stack, page: Page) -> None:
    stack = fresh_stack
    payloads = sample_payloads()
    publish_sample(stack, payloads[:3_000])
    wait_for(lambda: stack.live().get("orders", 0) > 0, 60, "the worker published nothing")
    page.goto(stack.base_url + "/?lang=en")
    push_state = page.locator(f"#{Ids.PUSH_STATE}")
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > 0, 30, "nothing was pushed")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/live" in r.url else None)
    orders = stack.live
    shown = orders()["orders"]
    publish_sample(stack, payloads[3_000:6_000])
    wait_for(lambda: orders()["orders"] > shown, 30, "the worker counted nothing more")
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}").replace(",", "") == str(orders()["orders"]),
             30, "the pushed screen never showed the orders")
    assert not polls, "a pushed page polled"
    expect(push_state).to_have_text("")

    # The push breaks (both serving processes killed mid-stream; the stream refused while they
    # are back): the page polls, says so, and shows the night going on.
    page.route("**/api/stream*", lambda route: route.abort())
    for pid in _serve_workers(stack):
        os.kill(pid, signal.SIGKILL)
    expect(push_state).to_have_text("push lost — updating each second", timeout=20_000)
    shown = orders()["orders"]
    publish_sample(stack, payloads[6_000:9_000])
    wait_for(lambda: orders()["orders"] > shown, 30, "the worker counted nothing more")
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}").replace(",", "") ==
             str(orders()["orders"]), 60, "the polling screen fell behind")
    assert polls, "the page never polled"
    expect(page.locator(f"#{Ids.STALE_BANNER}")).to_be_hidden(timeout=20_000)

    page.unroute("**/api/stream*")
    expect(push_state).to_have_text("", timeout=60_000)
    pushed = page.evaluate("window.gmvPush.frames")
    publish_sample(stack, payloads[9_000:12_000])
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > pushed + 3, 30, "the push never came back")

    # The night's charts, grown point by point by the push, are the charts drawn whole.
    wait_for(lambda: stack.live()["orders"] == _counted(stack), 60, "the worker fell behind")
    wait_for(lambda: _drawn(page, "night-chart") == _whole(stack, page, "night"), 60,
             "the pushed night chart differs from the one drawn whole")


def _counted(stack: Stack) -> int:
    return int(stack.live()["orders"])


def _drawn(page: Page, chart_id: str) -> Any:
    return page.evaluate(
        "(id) => document.querySelector('#' + id + ' .js-plotly-plot').data"
        ".map(t => [Array.from(t.x || []), Array.from(t.y || [])])", chart_id)


def _whole(stack: Stack, page: Page, name: str) -> Any:
    answer = page.request.get(stack.base_url + "/api/night-figures?lang=en")
    figure = answer.json()[name]
    return [[list(t.get("x") or []), list(t.get("y") or [])] for t in figure["data"]]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=snapshot_pairs())
def test_the_page_applies_a_change_as_the_server_means_it(
        quiet_stack: Stack, page: Page, pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """assets/live.js's rules and dashboard/frames.py's, on the same changes."""
    if page.url == "about:blank":
        page.goto(quiet_stack.base_url + "/?lang=en")
        wait_for(lambda: page.evaluate("typeof window.gmvPush.applyLiveDelta") == "function", 30,
                 "the page has no push")
    old, new = pair
    delta = json.loads(encode(live_delta(old, new)))
    assert page.evaluate("([old, delta]) => window.gmvPush.applyLiveDelta(old, delta)",
                         [json.loads(encode(old)), delta]) == json.loads(encode(new))


def test_a_server_without_push_is_polled_and_the_screen_says_so(tmp_path: Path, page: Page) -> None:
    """GMV_WEB_PUSH=no: gunicorn's gthread workers answer the stream 501; the page polls once a
    second and says why under the clock (not "lost": this server does not push)."""
    with running_stack(tmp_path, {"GMV_WEB_PUSH": "no"}) as stack:
        let_in(page.context)  # this war room started after the page's context
        publish_sample(stack, sample_payloads()[:3_000])
        wait_for(lambda: stack.live().get("orders", 0) > 0, 60, "the worker published nothing")
        page.goto(stack.base_url + "/?lang=en")
        expect(page.locator(f"#{Ids.PUSH_STATE}")).to_have_text(
            "updating each second (this server does not push)", timeout=20_000)
        wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}").replace(",", "") ==
                 str(stack.live()["orders"]), 30, "the polled screen never showed the orders")
        assert page.evaluate("window.gmvPush.frames") == 0


def test_a_stream_cut_at_once_is_polled_said_and_not_hammered(fresh_stack: Stack,
                                                              page: Page) -> None:
    """Between the screen and the server, something ends every stream before its first frame (a
    proxy that does not pass server-sent events): the page polls, says the push is lost, and
    tries the stream again less and less often, not twice a second."""
    stack = fresh_stack
    publish_sample(stack, sample_payloads()[:3_000])
    wait_for(lambda: stack.live().get("orders", 0) > 0, 60, "the worker published nothing")
    tries: list[float] = []

    def cut(route: Any) -> None:
        tries.append(time.monotonic())
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body="")

    page.route("**/api/stream*", cut)
    page.goto(stack.base_url + "/?lang=en")
    expect(page.locator(f"#{Ids.PUSH_STATE}")).to_have_text("push lost — updating each second",
                                                            timeout=20_000)
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}").replace(",", "") ==
             str(stack.live()["orders"]), 30, "the polled screen never showed the orders")
    wait_for(lambda: tries and time.monotonic() - tries[0] > 20, 40, "never tried")
    assert len(tries) <= 8, f"{len(tries)} tries in 20 s: the stream was hammered"
