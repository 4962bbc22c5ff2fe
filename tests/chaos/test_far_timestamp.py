"""One order stamped far from the rest of a replayed night (last year's night sent again, with
one order stamped "now" among its orders) cannot move the night's clock: the dedupe table keeps
the night's keys (its re-sends stay duplicates, across a restart too), and the night curve keeps
the night."""

from __future__ import annotations

import json
import os
import subprocess
import time
from decimal import Decimal

import pytest
import redis

from common.settings import Settings
from ingest.contract import format_cents
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher, publisher_for
from tests.chaos.scenarios import CLI, SMALL_BATCHES
from tests.sample import TRUTH, reference_per_second, reference_rejected, sample_payloads

NIGHT_START_MS = 1_794_326_400_000 - 2 * 60_000  # the sample night: from 23:58 on the eve


def ingest_until_idle(settings: Settings) -> str:
    done = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **SMALL_BATCHES,
                                            "GMV_PARTITIONS": str(settings.partitions)})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def payload(order_id: str, ts_ms: int, amount: str) -> bytes:
    return json.dumps({"order_id": order_id, "ts": ts_ms, "amount": amount, "device": "pc",
                       "category": "books", "region": "ZJ", "merchant_id": "m1",
                       "buyer_id": "b1", "item_id": "i1", "quantity": 1}).encode()


def test_an_order_stamped_now_in_a_replayed_night_moves_no_clock(
        redis_client: redis.Redis, settings: Settings) -> None:
    night = list(sample_payloads())
    stray = payload("stamped-now", int(time.time() * 1000), "1234.56")
    publisher = StreamPublisher(redis_client, settings.orders_stream)
    publisher.publish(night[: len(night) // 2] + [stray] + night[len(night) // 2:])
    first = ingest_until_idle(settings)
    resent = night[: len(night) // 2]
    publisher.publish(resent)
    second = ingest_until_idle(settings)  # a new process: the clock comes back from the store

    totals = read_summary(settings.data_dir)
    rejected_again = sum(1 for p in resent if p in reference_rejected())
    assert totals["gmv"] == format_cents(int((Decimal(TRUTH["gmv"]) + Decimal("1234.56")) * 100))
    assert totals["orders"] == TRUTH["accepted"] + 1
    assert totals["rejected"] == TRUTH["rejected"] + rejected_again
    assert totals["duplicates"] == TRUTH["duplicates"] + len(resent) - rejected_again
    # The dedupe table was made once a start, never again for a clock that jumped.
    assert first.count("event=dedupe_rebuilt") == second.count("event=dedupe_rebuilt") == 1
    night_doc = json.loads(redis_client.get(settings.night_key) or b"{}")
    assert night_doc["start_ms"] <= NIGHT_START_MS  # the night's minutes are still drawn
    assert night_doc["latest_ms"] < NIGHT_START_MS + 3_600_000  # the clock stayed in the night


def night_orders(kind: str) -> list[bytes]:
    """New orders of the replayed night for one checkpoint beside the stray: "few", two of its
    last second (a replay at festival pace: a handful a checkpoint); "late", ten of its first
    minute (behind the clock: a checkpoint that moves it nowhere)."""
    if kind == "few":
        last_ms = max(reference_per_second()) * 1000
        return [payload("few-1", last_ms, "10.00"), payload("few-2", last_ms + 500, "20.00")]
    return [payload(f"late-{i}", NIGHT_START_MS + 1_000 * i, "3.00") for i in range(10)]


@pytest.mark.parametrize("partitions", [1, 3])
@pytest.mark.parametrize("kind", ["few", "late"])
def test_an_order_stamped_now_beside_a_checkpoint_of_the_night_moves_no_clock(
        redis_client: redis.Redis, settings: Settings, kind: str, partitions: int) -> None:
    """The stray in a checkpoint of its own with a few of the night's orders, after the night
    (on main: three orders were a bulk whose upper quartile was the stray's; a checkpoint that
    left the clock where it was moved it to its newest order); partitioned, the combiner's
    night curve and clock too."""
    settings = settings.replace(partitions=partitions)
    night = list(sample_payloads())
    publisher = publisher_for(redis_client, settings)
    publisher.publish(night)
    ingest_until_idle(settings)
    beside = night_orders(kind)
    publisher.publish([*beside, payload("stamped-now", int(time.time() * 1000), "1234.56")])
    tail = ingest_until_idle(settings)  # one checkpoint: those orders and the stray
    resent = night[: len(night) // 2]
    publisher.publish(resent)
    again = ingest_until_idle(settings)

    totals = read_summary(settings.data_dir)
    added = sum(Decimal(json.loads(p)["amount"]) for p in beside) + Decimal("1234.56")
    rejected_again = sum(1 for p in resent if p in reference_rejected())
    assert totals["gmv"] == format_cents(int((Decimal(TRUTH["gmv"]) + added) * 100))
    assert totals["orders"] == TRUTH["accepted"] + len(beside) + 1
    assert totals["rejected"] == TRUTH["rejected"] + rejected_again
    assert totals["duplicates"] == TRUTH["duplicates"] + len(resent) - rejected_again
    # Once a start for each partition's worker, never again for a clock that jumped.
    assert tail.count("event=dedupe_rebuilt") == again.count("event=dedupe_rebuilt") == partitions
    night_doc = json.loads(redis_client.get(settings.night_key) or b"{}")
    assert night_doc["start_ms"] <= NIGHT_START_MS
    assert night_doc["latest_ms"] < NIGHT_START_MS + 3_600_000


def test_a_fresh_stores_first_order_stamped_now_keeps_a_replayed_nights_resends_duplicates(
        redis_client: redis.Redis, settings: Settings) -> None:
    """The stray comes first, alone (an operator's smoke-test order), then last year's night,
    then half of it again after a restart: the clock had nothing to weigh the stray against,
    but the dedupe table's horizon is in arrivals, and every one of the night's keys arrived
    within it (found from outside: +¥39M counted again)."""
    night = list(sample_payloads())
    publisher = StreamPublisher(redis_client, settings.orders_stream)
    publisher.publish([payload("stamped-now", int(time.time() * 1000), "1234.56")])
    ingest_until_idle(settings)
    publisher.publish(night)
    ingest_until_idle(settings)
    resent = night[: len(night) // 2]
    publisher.publish(resent)
    said = ingest_until_idle(settings)
    totals = read_summary(settings.data_dir)
    rejected_again = sum(1 for p in resent if p in reference_rejected())
    assert totals["gmv"] == format_cents(int((Decimal(TRUTH["gmv"]) + Decimal("1234.56")) * 100))
    assert totals["orders"] == TRUTH["accepted"] + 1
    assert totals["duplicates"] == TRUTH["duplicates"] + len(resent) - rejected_again
    assert said.count("event=dedupe_rebuilt") == 1
