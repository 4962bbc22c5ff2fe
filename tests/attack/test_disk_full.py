"""Attack: the data dir on a small tmpfs that fills in the middle of a night (root only: mount).
Whatever the worker does while the disk is full, once there is room again a restart must be
exact: no order lost as a false duplicate, no resend counted twice."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from common.settings import Settings
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from tests.attack.test_dedupe_tamper import run
from tests.integration.test_dedupe_files import resent_half
from tests.sample import TRUTH, sample_payloads

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs")


@pytest.fixture()
def tiny(request: pytest.FixtureRequest) -> Iterator[Path]:
    where = Path("/mnt") / f"gmv-tiny-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs",
                              str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:  # a container without the right to mount
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()[:200]}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)
    where.rmdir()


@pytest.mark.parametrize("tiny", [
    # 30 MiB: full when the dedupe table's file takes its space (it was a sparse file whose
    # pages, first written later, killed the worker with SIGBUS, without a word). 44 MiB: full
    # at a parquet write.
    "30m", "44m"], indirect=True)
def test_a_disk_full_in_the_middle_of_a_night_is_said_then_room_again_is_exact(
        redis_client: redis.Redis, settings: Settings, tiny: Path) -> None:
    settings = settings.replace(data_dir=tiny / "data")
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    full = run(settings)
    print("FULL rc", full.returncode, full.stderr[-2500:])
    full_said = full.returncode == 1 and "disk is full" in full.stderr
    subprocess.run(["mount", "-o", "remount,size=400m", str(tiny)], check=True)
    again = run(settings)
    assert again.returncode == 0, again.stderr[-3000:]
    print("AGAIN", again.stderr[-1500:])
    duplicates = resent_half(redis_client, settings)
    last = run(settings)
    assert last.returncode == 0, last.stderr[-3000:]
    totals = read_summary(settings.data_dir)
    assert (totals["orders"], totals["gmv"], totals["duplicates"]) == (
        TRUTH["accepted"], TRUTH["gmv"], TRUTH["duplicates"] + duplicates), last.stderr[-2000:]
    assert full_said, (full.returncode, full.stderr[-1500:])  # exact, but was it said?
