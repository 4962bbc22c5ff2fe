"""Attack: every partition's fresh parts compacted (and the retired parts deleted) while the
combiner was down, after it had taken them all: its checkpoint still holds (nothing it had not
taken was compacted), and it must stay exact, without a traceback."""

from __future__ import annotations

import json

import pytest
import redis

from common.settings import Settings
from ingest.combine_checkpoint import checkpoint_path
from ingest.history import read_whole_manifest
from tests.integration.test_partitions import assert_partitioned_night_is_exact, gmv, published


@pytest.mark.timeout(900)
def test_parts_taken_then_compacted_while_the_combiner_was_down(
        redis_client: redis.Redis, settings: Settings) -> None:
    settings = published(redis_client, settings)
    gmv(settings, "ingest", "--until-idle")
    saved = json.loads(checkpoint_path(settings.data_dir).read_text())
    before = [read_whole_manifest(settings.for_partition(p).data_dir)
              for p in range(settings.partitions)]
    # A start counts the parts it finds as old enough to compact, and deletes what a commit
    # retired: two starts compact every partition's parts and delete them, no waiting.
    gmv(settings, "ingest", "--until-idle", "--worker", "0/1")
    gmv(settings, "ingest", "--until-idle", "--worker", "0/1")
    after = [read_whole_manifest(settings.for_partition(p).data_dir)
             for p in range(settings.partitions)]
    print("applied", [m["applied"] for m in saved["partitions"]],
          "compacted_through before", [m.compacted_through for m in before],
          "after", [m.compacted_through for m in after],
          "names changed", [sorted(f.name for f in a.files) != sorted(f.name for f in b.files)
                            for a, b in zip(after, before, strict=True)])
    assert all(sorted(f.name for f in a.files) != sorted(f.name for f in b.files)
               for a, b in zip(after, before, strict=True))  # compacted while it was down
    again = gmv(settings, "combine", "--until-idle", check=False)
    print(again.stderr[-1500:])
    assert again.returncode == 0, again.stderr[-3000:]
    assert_partitioned_night_is_exact(redis_client, settings)
