"""Zero oversell, watched by the real worker against the sample night's labelled flash sale."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pytest
import redis

from common.settings import Settings
from dashboard.data.live import DataSource
from ingest.contract import Fate
from ingest.detect.keeper import read_alerts
from ingest.detect.oversell import OVERSELL_ENDS_AFTER_MS
from ingest.detect.watch import Watch
from ingest.worker import run_worker
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from tests.conftest import wait_for
from tests.sample import SAMPLE, reference_verdicts, sample_payloads

LABELS = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())
OVERSELL = next(i for i in LABELS["incidents"] if i["kind"] == "oversell")


def sold(item: str) -> int:
    """The item's accepted quantity over the whole night, by the reference fates."""
    return sum(v.order.quantity for v in reference_verdicts()
               if v.fate == Fate.ACCEPTED and v.order and v.order.item_id == item)


def crossing_ms(item: str, stock: int) -> int:
    """By the contract's reference fates, in arrival order: the event time of the accepted order
    that took the item past its stock."""
    sold = 0
    for verdict in reference_verdicts():
        if verdict.fate == Fate.ACCEPTED and verdict.order and verdict.order.item_id == item:
            sold += verdict.order.quantity
            if sold > stock:
                return verdict.order.ts_ms
    raise AssertionError(f"{item} was never oversold")


def test_the_oversold_item_fires_from_the_order_that_crossed_its_stock(
        redis_client: redis.Redis, settings: Settings) -> None:
    settings = settings.replace(ingest_batch_size=500)  # it sells on over many batches
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    out = subprocess.run([sys.executable, "-m", "gmv.cli", "alerts", "--json", *where],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    alerts = json.loads(out.stdout)
    oversold = [a for a in alerts if a["kind"] == "oversell"]
    assert [a["dimension"] for a in oversold] == [OVERSELL["dimension"]]  # and nothing else
    (alert,) = oversold
    item = OVERSELL["dimension"].removeprefix("item=")
    assert alert["start_ms"] == crossing_ms(item, alert["expected"])
    # A late presale order can take it past the stock before the first order sold beyond it.
    assert OVERSELL["start_ms"] - 60_000 <= alert["start_ms"] <= OVERSELL["end_ms"]
    assert alert["severity"] == "critical" and alert["end"] is None and "oversold" in alert["message"]
    # It says how far it has gone: every unit accepted by the end of the night.
    assert alert["actual"] == sold(item) > alert["expected"]
    assert f"{sold(item):,} accepted against {alert['expected']:,}" in alert["message"]
    # The operations view's feed has it too.
    feed = json.loads(redis_client.get(settings.alerts_key) or b"{}")["alerts"]
    assert OVERSELL["dimension"] in [a["dimension"] for a in feed]


def test_a_restarted_worker_keeps_the_nights_alerts_without_repeating_them(
        redis_client: redis.Redis, settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    first = (settings.data_dir / "alerts.json").read_text()
    run_worker(redis_client, settings, until_idle=True)
    assert (settings.data_dir / "alerts.json").read_text() == first


def test_an_acknowledgement_from_the_operations_view_reaches_the_feed_and_the_file(
        redis_client: redis.Redis, settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    (alert,) = [a for a in read_alerts(settings.data_dir) if a["kind"] == "oversell"]
    assert alert["acknowledged_ms"] is None
    source = DataSource(settings, redis_client)
    assert source.acknowledge(alert["key"], "mei", 1_794_330_000_000)
    run_worker(redis_client, settings, until_idle=True)  # merges it while idle
    (acked,) = [a for a in read_alerts(settings.data_dir) if a["key"] == alert["key"]]
    assert acked["acknowledged_ms"] == 1_794_330_000_000 and acked["state"] == "firing"
    assert acked["acknowledged_by"] == "mei"
    mine = next(a for a in source.alerts() if a["key"] == alert["key"])
    assert (mine["acknowledged_ms"], mine["acknowledged_by"]) == (1_794_330_000_000, "mei")
    # Pressing again is refused and changes nothing: the first acknowledgement stands.
    assert not source.acknowledge(alert["key"], "li", 1_794_330_999_000)
    run_worker(redis_client, settings, until_idle=True)
    (again,) = [a for a in read_alerts(settings.data_dir) if a["key"] == alert["key"]]
    assert (again["acknowledged_ms"], again["acknowledged_by"]) == (1_794_330_000_000, "mei")


def test_acknowledgements_of_alerts_that_do_not_exist_are_refused_and_junk_in_the_hash_is_harmless(
        redis_client: redis.Redis, settings: Settings) -> None:
    """Only a firing alert's key is written; whatever else lands in the hash (a hand-written
    HSET, an older dashboard) neither stops the worker nor is read beyond the open alerts."""
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    source = DataSource(settings, redis_client)
    assert not source.acknowledge("oversell|item=nope|1", "mei", 1)
    assert not source.acknowledge("x" * 10_000, "mei", 1)
    assert redis_client.hlen(settings.acks_key) == 0
    (alert,) = [a for a in read_alerts(settings.data_dir) if a["kind"] == "oversell"]
    redis_client.hset(settings.acks_key, mapping={f"junk-{i}": "x" * 100 for i in range(5_000)})
    redis_client.hset(settings.acks_key, alert["key"], b"\xff not json")
    run_worker(redis_client, settings, until_idle=True)
    (acked,) = [a for a in read_alerts(settings.data_dir) if a["key"] == alert["key"]]
    assert acked["acknowledged_ms"] is not None and acked["acknowledged_by"] is None


@pytest.mark.parametrize("interval_ms", [300, 600_000], ids=["checkpoints", "one-checkpoint"])
def test_a_stream_of_re_sends_raises_the_resend_flood_alert_on_the_nights_clock(
        redis_client: redis.Redis, settings: Settings, interval_ms: int) -> None:
    """Issue #24, item 1: the night published again (what a second demo did before it learnt to
    continue), its re-sends arriving over a minute: every one a duplicate, the night's clock
    standing still, and an alert that says so."""
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    clock_ms = json.loads(redis_client.get(settings.snapshot_key) or b"{}")["latest_second_ms"]
    payloads = sample_payloads()
    last_ms = int(redis_client.xinfo_stream(settings.orders_stream)["last-generated-id"]
                  .decode().split("-")[0])
    pipe = redis_client.pipeline(transaction=False)
    for i, payload in enumerate(payloads):  # over 60 s of arrival time
        pipe.xadd(settings.orders_stream, {"data": payload},
                  id=f"{last_ms + 1000 + i * 60_000 // len(payloads)}-{i}")
    pipe.execute()
    # However many checkpoints the minute of re-sends falls into (a fast machine reads it into
    # one: the CI failure of stop 39), it is a minute of re-sends.
    run_worker(redis_client, settings.replace(ingest_batch_size=500,
                                              checkpoint_interval_ms=interval_ms),
               until_idle=True)
    (flood,) = [a for a in read_alerts(settings.data_dir) if a["kind"] == "resend_flood"]
    assert flood["severity"] == "major" and "re-sends" in flood["message"]
    assert flood["actual"] > 0.9
    night = json.loads(subprocess.run(
        [sys.executable, "-m", "gmv.cli", "summary", "--json", "--redis", str(settings.redis_url),
         "--data", str(settings.data_dir)], capture_output=True, text=True, timeout=60).stdout)
    assert night["duplicates"] >= len(payloads) * 0.9
    # On the night's clock (walked on by arrivals), not at the wall time the re-sends came.
    assert clock_ms <= flood["start_ms"] <= clock_ms + 60_000, (flood, clock_ms)


def snapshot_orders(client: redis.Redis, settings: Settings) -> int:
    raw = client.get(settings.snapshot_key)
    return int(json.loads(raw).get("orders", 0)) if raw else 0


def test_an_oversell_ends_when_the_item_stops_selling_and_still_waits_to_be_seen(
        redis_client: redis.Redis, settings: Settings) -> None:
    """Issue #25: the full day kept an oversell open 106 minutes after its item last sold. The
    alert resolves once the item has not been sold beyond its stock for five minutes of the
    night; an operator can still acknowledge it (the units sold are still to be dealt with); a
    later sale beyond the stock opens a new one."""
    t0 = 1_794_326_400_000 + 60_000  # 00:01

    def order(n: int, ts_ms: int, item: str) -> bytes:
        return json.dumps({"order_id": f"o-{n}", "ts": ts_ms, "amount": "10.00",
                           "device": "mobile", "category": "digital", "region": "ZJ",
                           "merchant_id": "m-1", "buyer_id": f"b-{n}", "item_id": item,
                           "quantity": 1}).encode()

    def filler(first_s: int, last_s: int) -> list[bytes]:  # other items: the night goes on
        return [order(100_000 + s, t0 + s * 1000, f"i-other-{s}") for s in range(first_s, last_s, 5)]

    inventory = StreamPublisher(redis_client, settings.inventory_stream)
    inventory.publish([json.dumps({"item_id": "i-hot", "ts": t0 - 60_000, "stock": 1}).encode()])
    orders = StreamPublisher(redis_client, settings.orders_stream)
    oversells = lambda: [a for a in read_alerts(settings.data_dir) if a["kind"] == "oversell"]  # noqa: E731

    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]
    # One worker throughout: one that restarts counts the five minutes from its start.
    worker = subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "-q", *where])
    try:
        orders.publish([order(1, t0, "i-hot"), order(2, t0 + 1000, "i-hot"), *filler(2, 240)])
        wait_for(lambda: snapshot_orders(redis_client, settings) == 2 + 48,
                 60, "the worker never counted the first four minutes")
        wait_for(lambda: len(oversells()) == 1, 30, "no oversell alert stored")
        (first,) = oversells()
        assert first["state"] == "firing" and first["start_ms"] == t0 + 1000  # four minutes on

        orders.publish(filler(240, 420))  # seven minutes after its last sale
        wait_for(lambda: oversells()[0]["state"] == "resolved", 60, "the oversell never ended")
        (first,) = oversells()
        assert first["end_ms"] == t0 + 1000 + OVERSELL_ENDS_AFTER_MS, first
        assert DataSource(settings, redis_client).acknowledge(first["key"], "mei", t0 + 500_000)

        orders.publish([order(3, t0 + 430_000, "i-hot"), *filler(431, 440)])  # beyond again
        wait_for(lambda: len(oversells()) == 2 and oversells()[0]["acknowledged_by"] == "mei",
                 60, "no second oversell, or the first one's acknowledgement lost")
        first, again = sorted(oversells(), key=lambda a: a["start_ms"])
        assert first["state"] == "resolved"
        assert again["state"] == "firing" and again["start_ms"] == t0 + 430_000
        assert again["actual"] == 3
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_an_oversell_that_ended_before_a_restart_is_not_raised_again_by_it(
        redis_client: redis.Redis, settings: Settings) -> None:
    """A restarted worker reads the inventory stream from its start, so every declared item's
    stock is new to it: an item whose oversell had ended (nothing sold since) is no new oversell,
    and the ended one, unacknowledged, can still be acknowledged."""
    t0 = 1_794_326_400_000 + 60_000

    def order(n: int, ts_ms: int, item: str) -> bytes:
        return json.dumps({"order_id": f"o-{n}", "ts": ts_ms, "amount": "10.00",
                           "device": "mobile", "category": "digital", "region": "ZJ",
                           "merchant_id": "m-1", "buyer_id": f"b-{n}", "item_id": item,
                           "quantity": 1}).encode()

    def filler(first_s: int, last_s: int) -> list[bytes]:
        return [order(100_000 + s, t0 + s * 1000, f"i-other-{s}") for s in range(first_s, last_s, 5)]

    StreamPublisher(redis_client, settings.inventory_stream).publish(
        [json.dumps({"item_id": "i-hot", "ts": t0 - 60_000, "stock": 1}).encode()])
    orders = StreamPublisher(redis_client, settings.orders_stream)
    oversells = lambda: [a for a in read_alerts(settings.data_dir) if a["kind"] == "oversell"]  # noqa: E731
    where = ["--redis", str(settings.redis_url), "--data", str(settings.data_dir)]

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "gmv.cli", "ingest", "-q", *where])

    first_worker = worker()
    try:
        orders.publish([order(1, t0, "i-hot"), order(2, t0 + 1000, "i-hot"), *filler(2, 420)])
        wait_for(lambda: snapshot_orders(redis_client, settings) == 2 + 84, 60, "not counted")
        wait_for(lambda: oversells() and oversells()[0]["state"] == "resolved", 60,
                 "the oversell never ended")
    finally:
        first_worker.terminate()
        first_worker.wait(timeout=30)
    second_worker = worker()
    try:
        orders.publish(filler(420, 440))
        wait_for(lambda: snapshot_orders(redis_client, settings) == 2 + 88, 60, "not counted")
        # The live state counts a batch before its detectors run; a later batch counted means
        # the worker is past them (one loop), so an alert they raised would be stored by now.
        orders.publish(filler(440, 441))
        wait_for(lambda: snapshot_orders(redis_client, settings) == 2 + 89, 60,
                 "the next batch not counted")
        (ended,) = oversells()
        assert ended["state"] == "resolved" and not ended["acknowledged_ms"]
        assert DataSource(settings, redis_client).acknowledge(ended["key"], "mei", t0 + 500_000)
        wait_for(lambda: oversells()[0]["acknowledged_by"] == "mei", 30,
                 "the ended oversell's acknowledgement was not merged after the restart")
        assert len(oversells()) == 1, oversells()
    finally:
        second_worker.terminate()
        second_worker.wait(timeout=30)


def test_an_oversell_ends_on_a_live_night_that_has_gone_quiet(
        redis_client: redis.Redis, settings: Settings) -> None:
    """The night's last orders (or an outage): no batch comes to end an oversell, but the
    detectors' clock moves on with the wall clock (Watch.quiet), and it ends with it."""
    t0 = (int(time.time()) - 400) * 1000
    StreamPublisher(redis_client, settings.inventory_stream).publish(
        [json.dumps({"item_id": "i-hot", "ts": t0 - 60_000, "stock": 1}).encode()])
    none = pa.table({"item_id": pa.array([], pa.string()), "quantity": pa.array([], pa.int64())})
    watch = Watch(redis_client, settings, none, lambda items: none)
    try:
        sold = pa.table({"item_id": pa.array(["i-hot"], pa.string()),
                         "quantity": pa.array([2], pa.int64()), "ts_ms": pa.array([t0], pa.int64())})
        watch.oversell.after_checkpoint(sold, watch.book, {"i-hot"}, t0)
        (alert,) = watch.book.alerts
        assert alert.state == "firing"
        watch.quiet(t0 // 1000 + 360)  # six minutes without an order
        assert alert.state == "resolved" and alert.end_ms == t0 + OVERSELL_ENDS_AFTER_MS
    finally:
        watch.close()
