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

import redis

from common.settings import Settings
from ingest.contract import format_cents
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from tests.chaos.scenarios import CLI, SMALL_BATCHES
from tests.sample import TRUTH, reference_rejected, sample_payloads

NIGHT_START_MS = 1_794_326_400_000 - 2 * 60_000  # the sample night: from 23:58 on the eve


def ingest_until_idle(settings: Settings) -> str:
    done = subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **SMALL_BATCHES})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_an_order_stamped_now_in_a_replayed_night_moves_no_clock(
        redis_client: redis.Redis, settings: Settings) -> None:
    night = list(sample_payloads())
    stray = json.dumps({"order_id": "stamped-now", "ts": int(time.time() * 1000),
                        "amount": "1234.56", "device": "pc", "category": "books", "region": "ZJ",
                        "merchant_id": "m1", "buyer_id": "b1", "item_id": "i1",
                        "quantity": 1}).encode()
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
