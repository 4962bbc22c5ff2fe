"""Attack: the worker's connection killed (CLIENT KILL) again and again while big XREAD replies
are in flight (each entry carries a large extra field, so a reply is many receives long): every
entry counted once, exactly the reference's totals."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import redis

from common.settings import Settings
from ingest.history import read_summary
from tests.chaos.scenarios import CLI
from tests.checks import assert_matches_truth
from tests.sample import sample_payloads


@pytest.mark.timeout(900)
def test_connections_killed_while_big_xread_replies_are_in_flight_count_each_entry_once(
        redis_client: redis.Redis, settings: Settings) -> None:
    pad = b"p" * 1500
    pipe = redis_client.pipeline(transaction=False)
    for i, payload in enumerate(sample_payloads()):
        # the pad before and after the data field: other fields, ignored wherever they stand
        pipe.xadd(settings.orders_stream, {"pad": pad, "data": payload, "tail": pad})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    mine = redis_client.client_id()
    stop = threading.Event()
    kills = []

    def killer() -> None:
        while not stop.is_set() and len(kills) < 15:
            for info in redis_client.client_list(_type="normal"):
                if int(info["id"]) != mine and info.get("cmd") in ("xread", "exec", "get", "xinfo|stream"):
                    redis_client.client_kill_filter(_id=int(info["id"]))
                    kills.append(info.get("cmd"))
            time.sleep(0.03 if not kills else 0.4)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        done = subprocess.run(
            [*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url), "--data",
             str(settings.data_dir)], capture_output=True, text=True, timeout=600,
            env={**os.environ, "GMV_INGEST_BATCH_SIZE": "20000", "GMV_TRIM_STREAM": "no"})
    finally:
        stop.set()
        thread.join()
    print("kills", len(kills), kills[:10])
    if done.returncode != 0:  # gave up under the cuts: once they stop, a restart finishes
        done = subprocess.run(
            [*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url), "--data",
             str(settings.data_dir)], capture_output=True, text=True, timeout=600,
            env={**os.environ, "GMV_INGEST_BATCH_SIZE": "20000", "GMV_TRIM_STREAM": "no"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert_matches_truth(read_summary(settings.data_dir))
