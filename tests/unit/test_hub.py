"""The hub's rules on the serving loop (dashboard/hub.py), without a server: what a stream is
sent of each publication, when, and with which age. The Redis client is never asked: these
paths take the publications as the listener hands them over."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import redis

from common.settings import load_settings
from dashboard import hub as hub_module
from dashboard.data.live import DataSource
from dashboard.hub import Hub, Stream

REGIONS = {f"region-{i}": {"gmv_cents": i * 1000, "orders": i} for i in range(30)}


def make_hub() -> Hub:
    source = DataSource(load_settings({}), redis.Redis(port=1))  # never connected
    return Hub(source, lambda lang: b"{}", lambda now_ms: None)


def snapshot(position: str, gmv_cents: int, heartbeat_ms: int | None = None, **more: Any) -> bytes:
    beat = int(time.time() * 1000) if heartbeat_ms is None else heartbeat_ms
    return json.dumps({"heartbeat_ms": beat, "position": position, "gmv_cents": gmv_cents,
                       "orders": gmv_cents // 100, "by_region": REGIONS, **more}).encode()


def frames(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in data.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_a_beat_held_back_is_sent_on_once_its_second_has_passed() -> None:
    """A publication whose position repeats the last one sent is held for NEWS_EVERY_S; if it
    is the last before the worker stops it is still sent (it was dropped, and the key read
    again afterwards was 'unchanged': the screens never saw it)."""
    hub, stream = make_hub(), Stream("en", "")
    hub.published(snapshot("1-0", 100))
    assert frames(hub.live_frame(stream))[0][0] == "live"
    hub.published(snapshot("1-0", 100, lag_ms=7))  # a beat: the same position
    assert hub.waiting is not None and hub.live_frame(stream) == b""
    hub._send_waiting()
    assert hub.live_frame(stream) == b"", "sent on before its second"
    hub.sent_at -= hub_module.NEWS_EVERY_S  # the second has passed
    hub._send_waiting()
    (event, frame), = frames(hub.live_frame(stream))
    assert event == "delta" and frame["delta"]["set"]["lag_ms"] == 7
    assert hub.waiting is None


def test_news_after_a_held_beat_replaces_it() -> None:
    hub, stream = make_hub(), Stream("en", "")
    hub.published(snapshot("1-0", 100))
    hub.live_frame(stream)
    hub.published(snapshot("1-0", 100, lag_ms=7))
    hub.published(snapshot("2-0", 250))
    assert hub.waiting is None
    (event, frame), = frames(hub.live_frame(stream))
    assert event == "delta" and frame["delta"]["set"]["gmv_cents"] == 250


def test_a_change_sent_late_is_framed_again_with_what_it_says_of_now() -> None:
    """A delta framed at publication and sent after FRESH_S (a stream woken late) is framed
    again at sending, as a whole frame is: its age and the continued night's notice are of
    now (here the notice counts the framings)."""
    framings = iter(range(1, 100))
    source = DataSource(load_settings({}), redis.Redis(port=1))
    hub, stream = Hub(source, lambda lang: b"{}", lambda now_ms: str(next(framings))), Stream("en", "")
    hub.published(snapshot("1-0", 100))
    hub.live_frame(stream)
    hub.published(snapshot("2-0", 200))
    framed = hub.continued(0)  # the next framing's number, taken: framings so far + 1
    hub.framed_at -= hub_module.FRESH_S + 1  # framed at publication, sent a second late
    (event, frame), = frames(hub.live_frame(stream))
    assert event == "delta" and frame["delta"]["set"]["gmv_cents"] == 200
    assert int(frame["continued"]) > int(framed), "the change was sent as framed at publication"


def test_a_stream_one_behind_gets_the_change_and_one_further_behind_the_whole() -> None:
    hub, near, far = make_hub(), Stream("en", ""), Stream("en", "")
    hub.published(snapshot("1-0", 100))
    hub.live_frame(near), hub.live_frame(far)
    hub.published(snapshot("2-0", 200))
    hub.live_frame(near)
    hub.published(snapshot("3-0", 300))
    assert [e for e, _ in frames(hub.live_frame(near))] == ["delta"]
    (event, frame), = frames(hub.live_frame(far))
    assert event == "live" and frame["live"]["gmv_cents"] == 300


def test_the_charts_of_a_language_nobody_watches_are_forgotten() -> None:
    """A language's night charts are kept only while a stream in it is open: a screen opened
    in it later is drawn this turn's charts, not the ones of whenever the last one closed."""
    drawn: list[str] = []

    def night_payload(lang: str) -> bytes:
        drawn.append(lang)
        return json.dumps({"night": {"data": [], "layout": {"title": f"{lang}{len(drawn)}"}}}).encode()

    async def scenario() -> None:
        source = DataSource(load_settings({}), redis.Redis(port=1))
        hub = Hub(source, night_payload, lambda now_ms: None)
        hub.loop = asyncio.get_running_loop()
        hub._night_wanted = asyncio.Event()
        zh = Stream("zh", "")
        hub.opened(zh)
        task = asyncio.create_task(hub._nights())
        while "zh" not in hub.nights:
            await asyncio.sleep(0.01)
        hub.streams.discard(zh)
        hub.opened(Stream("en", ""))  # wakes the drawing turn
        while "zh" in hub.nights or "en" not in hub.nights:
            await asyncio.sleep(0.01)
        task.cancel()

    # In a thread of its own: a process that ran Playwright's sync API holds a running loop.
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(asyncio.wait_for(scenario(), 30))
        except BaseException as err:  # noqa: BLE001 (reported in the test's thread)
            failed.append(err)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and not failed, failed


def test_new_totals_under_the_same_position_are_news() -> None:
    """A worker's heartbeat read between its commit and the state's update named the commit's
    position beside the totals before it; the commit's own publication, with the same position,
    must not be held back as a beat."""
    hub, stream = make_hub(), Stream("en", "")
    hub.published(snapshot("2-0", 100))
    hub.live_frame(stream)
    hub.published(snapshot("2-0", 250))
    assert hub.waiting is None
    (event, frame), = frames(hub.live_frame(stream))
    assert event == "delta" and frame["delta"]["set"]["gmv_cents"] == 250
