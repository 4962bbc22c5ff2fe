"""The worker counts the night exactly: to the cent, once per order; each rejected payload goes
to the dead-letter stream with a reason. Crashes are tests/integration/test_faults.py's."""

from __future__ import annotations

import pyarrow as pa
import redis

from common.settings import Settings
from ingest.history import read_summary
from ingest.worker import run_worker
from rehearsal.replay import replay
from tests.checks import assert_every_rejected_is_dead_lettered, assert_matches_truth
from tests.sample import SAMPLE, reference_rejected


def test_the_summary_reproduces_the_sample_nights_truth_to_the_cent(
        redis_client: redis.Redis, settings: Settings) -> None:
    replay(SAMPLE, redis_client, settings, speed=None, retime=False)
    run_worker(redis_client, settings, until_idle=True)
    assert_matches_truth(read_summary(settings.data_dir))
    assert pa.default_memory_pool().backend_name == "system"  # what the worker left in place
    assert_every_rejected_is_dead_lettered(redis_client, settings.dead_letter_stream,
                                           reference_rejected())
    reasons = {fields[b"reason"] for _, fields in redis_client.xrange(settings.dead_letter_stream)}
    assert any(b"not UTF-8" in r for r in reasons) and any(b"is missing" in r for r in reasons)
