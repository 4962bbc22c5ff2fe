"""Whatever the bytes, every entry gets one fate and the worker goes on: through a real Redis
and the real worker, killed and restarted in the middle of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import duckdb
import numpy as np
import redis

from common.settings import Settings
from ingest.contract import FUTURE_TS_MARGIN_MS, format_cents, judge
from ingest.history import read_summary
from ingest.read import id_key
from rehearsal.malformed import malformed_payloads
from rehearsal.publish import StreamPublisher
from tests.checks import dead_letters
from tests.conftest import wait_for
from tests.unit.test_decode import hostile, odd_but_valid, twins

CLI = [sys.executable, "-m", "gmv.cli"]


def ingest(settings: Settings, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    assert not check or done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done


def test_hostile_entries_each_get_a_fate_and_a_restart_does_not_loop_on_them(
        redis_client: redis.Redis, settings: Settings, order_factory) -> None:
    rng = np.random.default_rng(11)
    good = [order_factory(amount_cents=int(c)).to_payload() for c in rng.integers(1, 10**6, 300)]
    bad = [*hostile, *twins, *malformed_payloads(rng, 500, "x"),
           *(rng.bytes(int(n)) for n in rng.integers(0, 400, 300))]
    ahead = order_factory(ts_ms=int(time.time() * 1000) + 3_600_000).to_payload()
    payloads = [*good[:100], *bad, ahead, *odd_but_valid, *good[100:], *good[:10]]  # re-sends
    StreamPublisher(redis_client, settings.orders_stream).publish(payloads)
    # Entries without a data field, or with it beside others: the contract's rules.
    for fields in ({"payload": b"x"}, {"a": b"1", "data": good[200]}, {"data": good[201], "z": b""}):
        redis_client.xadd(settings.orders_stream, fields)
    entries = redis_client.xrange(settings.orders_stream)
    env = {"GMV_INGEST_BATCH_SIZE": "100", "GMV_CHECKPOINT_EVENTS": "100"}
    crashed = ingest(settings, {**env, "GMV_FAULT_AT": "after_commit:4"}, check=False)
    assert crashed.returncode == -9  # it stopped where asked, mid-stream
    ingest(settings, env)

    arrival = [id_key(i)[0] for i, _ in entries]
    verdicts = list(judge([f.get(b"data") for _, f in entries], set(), arrival,
                          FUTURE_TS_MARGIN_MS))
    fates = Counter(v.fate.value for v in verdicts)
    summary = read_summary(settings.data_dir)
    assert (summary["orders"], summary["rejected"], summary["duplicates"]) == (
        fates["accepted"], fates["rejected"], fates["duplicate"])
    assert summary["gmv"] == format_cents(sum(v.order.amount_cents for v in verdicts
                                              if v.fate.value == "accepted" and v.order))
    letters = dead_letters(redis_client, settings.dead_letter_stream)
    assert len(letters) == fates["rejected"]
    reasons = {f[b"reason"].decode() for _, f in redis_client.xrange(settings.dead_letter_stream)}
    assert any(r.startswith("no_data") for r in reasons)
    assert any(r.startswith("future_ts") for r in reasons)
    assert any("appears twice" in r for r in reasons) and any("surrogate" in r for r in reasons)


def test_an_order_stamped_far_ahead_cannot_move_the_nights_clock(
        redis_client: redis.Redis, settings: Settings, order_factory) -> None:
    now_ms = int(time.time() * 1000)
    night = [order_factory(ts_ms=now_ms - 60_000 + i).to_payload() for i in range(50)]
    ahead = [order_factory(ts_ms=4_070_908_800_000).to_payload(),  # 2099
             order_factory(ts_ms=now_ms + 4 * 60_000).to_payload()]  # within the margin
    StreamPublisher(redis_client, settings.orders_stream).publish(night + ahead)
    ingest(settings)
    live = json.loads(redis_client.get(settings.snapshot_key) or b"{}")
    assert live["orders"] == 51 and live["rejected"] == 1  # 2099: future_ts
    # The clock stays with the arrivals: the four-minutes-ahead order counts, not as "now".
    assert live["latest_second_ms"] <= int(time.time() * 1000)


def test_a_worker_that_finds_its_store_held_waits_and_says_so(
        redis_client: redis.Redis, settings: Settings, order_factory) -> None:
    StreamPublisher(redis_client, settings.orders_stream).publish(
        [order_factory().to_payload() for _ in range(10)])
    ingest(settings)  # the store exists
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); print('held', flush=True); "
        "sys.stdin.readline()"), str(settings.data_dir / "gmv.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    worker = subprocess.Popen([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                               "--data", str(settings.data_dir)], stderr=subprocess.PIPE,
                              text=True)
    assert worker.stderr is not None
    said = ""
    for line in worker.stderr:
        said += line
        if "event=store_locked" in line:
            break
    assert worker.poll() is None  # waiting, not dead
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.close()
    holder.wait(timeout=30)
    rest = worker.communicate(timeout=120)[1]
    assert worker.returncode == 0
    assert (said + rest).count("event=store_locked") == 1 and "Traceback" not in said + rest
    assert duckdb.__version__  # the holder above is a real DuckDB process, not a stand-in
    wait_for(lambda: read_summary(settings.data_dir)["orders"] == 10, 30, "no summary")
