"""Attack: another night's combiner checkpoint (same partitions, same horizon) copied into this
night's data dir: the combined totals must equal a full recomputation."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import redis

from common.settings import Settings
from ingest.combine_checkpoint import checkpoint_path
from rehearsal.replay import replay
from tests.integration.test_partitions import PARTITIONS, gmv
from tests.sample import SAMPLE


def summary(settings: Settings) -> dict:
    return json.loads((settings.data_dir / "summary.json").read_text())


@pytest.mark.timeout(900)
@pytest.mark.parametrize("other", ["first_half", "whole_night"])
def test_another_nights_checkpoint_copied_in(redis_client: redis.Redis, settings: Settings,
                                             tmp_path: Path, other: str) -> None:
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    x = settings.replace(partitions=PARTITIONS, orders_stream="x:orders",
                         data_dir=tmp_path / "x")
    y = settings.replace(partitions=PARTITIONS, orders_stream="y:orders",
                         data_dir=tmp_path / "y")
    env_x, env_y = {"GMV_ORDERS_STREAM": "x:orders"}, {"GMV_ORDERS_STREAM": "y:orders"}
    replay(SAMPLE if other == "whole_night" else first, redis_client, x, speed=None,
           retime=False)
    gmv(x, "ingest", "--until-idle", env=env_x)
    # this night: the other half first, so the same partitions hold different orders
    second = tmp_path / "second.jsonl"
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    replay(second, redis_client, y, speed=None, retime=False)
    gmv(y, "ingest", "--until-idle", env=env_y)
    truth = {k: summary(y)[k] for k in ("gmv", "orders", "rejected", "duplicates")}
    shutil.copy(checkpoint_path(x.data_dir), checkpoint_path(y.data_dir))
    again = gmv(y, "combine", "--until-idle", env=env_y, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    got = {k: summary(y)[k] for k in ("gmv", "orders", "rejected", "duplicates")}
    assert got == truth, again.stderr[-2000:]
