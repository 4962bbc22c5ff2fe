"""Every live snapshot the worker publishes holds the totals of the position it names: its
heartbeat thread, beating between a commit and the live state's update, named the commit's
position beside the totals before it (and the push, seeing the position repeat in the commit's
own snapshot, took that one for a beat)."""

from __future__ import annotations

import json
import threading
from typing import Any

import redis

from common.settings import Settings
from ingest.worker import run_worker
from rehearsal.replay import replay
from tests.sample import SAMPLE


def test_each_position_is_published_with_one_set_of_totals(redis_client: redis.Redis,
                                                           settings: Settings) -> None:
    # Hundreds of small commits, a heartbeat every 5 ms: beats fall between a commit and the
    # state's update often enough that the old worker tore a position in the runs tried.
    settings = settings.replace(ingest_batch_size=200, checkpoint_events=200,
                                snapshot_interval_ms=5)
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    heard: list[dict[str, Any]] = []
    listening = redis_client.pubsub(ignore_subscribe_messages=True)
    listening.subscribe(settings.snapshot_channel)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = listening.get_message(timeout=0.1)
            if message is not None:
                heard.append(json.loads(message["data"]))
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        run_worker(redis_client, settings, until_idle=True)
    finally:
        stop.set()
        listener.join(30)
        listening.close()
    totals: dict[str, set[tuple[int, int]]] = {}
    for doc in heard:
        if doc.get("position"):
            totals.setdefault(doc["position"], set()).add((doc["orders"], doc["gmv_cents"]))
    assert len(totals) > 50, f"too few commits seen to judge: {len(totals)}"
    torn = {position: sorted(seen) for position, seen in totals.items() if len(seen) > 1}
    assert not torn, f"positions published with two sets of totals: {list(torn.items())[:3]}"
