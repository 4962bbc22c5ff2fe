"""Zero oversell, watched by the real worker against the sample night's labelled flash sale."""

from __future__ import annotations

import json
import subprocess
import sys

import redis

from common.settings import Settings
from dashboard.data.live import DataSource
from ingest.contract import Fate, judge
from ingest.detect.keeper import read_alerts
from ingest.worker import run_worker
from rehearsal.replay import replay
from tests.sample import SAMPLE, sample_payloads

LABELS = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())
OVERSELL = next(i for i in LABELS["incidents"] if i["kind"] == "oversell")


def sold(item: str) -> int:
    """The item's accepted quantity over the whole night, by the reference fates."""
    return sum(v.order.quantity for v in judge(sample_payloads(), set())
               if v.fate == Fate.ACCEPTED and v.order and v.order.item_id == item)


def crossing_ms(item: str, stock: int) -> int:
    """By the contract's reference fates, in arrival order: the event time of the accepted order
    that took the item past its stock."""
    sold = 0
    for verdict in judge(sample_payloads(), set()):
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


def test_a_stream_of_re_sends_raises_the_resend_flood_alert_on_the_nights_clock(
        redis_client: redis.Redis, settings: Settings) -> None:
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
    run_worker(redis_client, settings.replace(ingest_batch_size=500), until_idle=True)
    (flood,) = [a for a in read_alerts(settings.data_dir) if a["kind"] == "resend_flood"]
    assert flood["severity"] == "major" and "re-sends" in flood["message"]
    assert flood["actual"] > 0.9
    night = json.loads(subprocess.run(
        [sys.executable, "-m", "gmv.cli", "summary", "--json", "--redis", str(settings.redis_url),
         "--data", str(settings.data_dir)], capture_output=True, text=True, timeout=60).stdout)
    assert night["duplicates"] >= len(payloads) * 0.9
    # On the night's clock (walked on by arrivals), not at the wall time the re-sends came.
    assert clock_ms <= flood["start_ms"] <= clock_ms + 60_000, (flood, clock_ms)
