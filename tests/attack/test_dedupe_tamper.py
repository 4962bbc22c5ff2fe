"""Attack: the dedupe table's files tampered between runs. A start must either trust files that
are provably the store's, or rebuild from the history and say so: never a traceback, never an
order lost as a false duplicate, never a resend counted twice."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import redis

from common.settings import Settings
from ingest.generations import HEADER_WORDS, dedupe_dir
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from tests.chaos.scenarios import CLI
from tests.integration.test_dedupe_files import SMALL, resent_half
from tests.sample import TRUTH, sample_payloads

(_MAGIC, _VERSION, _KEY, _GENERATION, _SPARE, _COUNT, _CHECKPOINT, _FIRST_ARRIVAL,
 _LAST_ARRIVAL, _OLDEST, _NEWEST, _BOOT, _CLEAN, _CHECKSUM) = range(14)


def run(settings: Settings, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "ingest", "--until-idle", "--redis", str(settings.redis_url),
                           "--data", str(settings.data_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **SMALL, **(env or {})})


def set_word(path: Path, index: int, value: int) -> None:
    with path.open("r+b") as file:
        file.seek(index * 8)
        file.write(int(value).to_bytes(8, "little"))


def word(path: Path, index: int) -> int:
    return int(np.fromfile(path, np.uint64, HEADER_WORDS)[index])


def first_night(client: redis.Redis, settings: Settings) -> Path:
    StreamPublisher(client, settings.orders_stream).publish(list(sample_payloads()))
    done = run(settings)
    assert done.returncode == 0, done.stderr[-3000:]
    return dedupe_dir(settings.data_dir) / "gen-0.table"


def assert_exact_after_resend(client: redis.Redis, settings: Settings) -> str:
    duplicates = resent_half(client, settings)
    done = run(settings)
    assert done.returncode == 0, done.stderr[-3000:]
    totals = read_summary(settings.data_dir)
    assert (totals["orders"], totals["gmv"], totals["duplicates"]) == (
        TRUTH["accepted"], TRUTH["gmv"], TRUTH["duplicates"] + duplicates), done.stderr[-1500:]
    return done.stderr


TAMPERS = {
    "spare_9": (_SPARE, lambda v: 9),
    "spare_7": (_SPARE, lambda v: 7),
    "oldest_plus_1": (_OLDEST, lambda v: v + 1),
    "count_0": (_COUNT, lambda v: 0),
    "count_huge": (_COUNT, lambda v: 1 << 62),
    "first_arrival_1": (_FIRST_ARRIVAL, lambda v: 1),
    "last_arrival_1": (_LAST_ARRIVAL, lambda v: 1),
    "clean_0_boot_0": (_BOOT, lambda v: 0),
    "generation_5": (_GENERATION, lambda v: 5),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_a_tampered_header_word_is_rebuilt_or_harmless(
        redis_client: redis.Redis, settings: Settings, tamper: str) -> None:
    path = first_night(redis_client, settings)
    index, change = TAMPERS[tamper]
    set_word(path, index, change(word(path, index)))
    said = assert_exact_after_resend(redis_client, settings)
    # and a third start after that one is exact too
    again = run(settings)
    assert again.returncode == 0, again.stderr[-3000:]
    print(said[-600:])


def two_generations(client: redis.Redis, settings: Settings) -> tuple[int, Path]:
    """Groups a and b, 40 minutes apart under a one-hour horizon: two generations on disk."""
    import time

    from tests.integration.test_dedupe_files import arrive
    start_ms = (int(time.time()) - 3 * 3600) * 1000
    arrive(client, settings, "a", start_ms)
    assert run(settings, HOUR).returncode == 0
    arrive(client, settings, "b", start_ms + 40 * 60_000)
    assert run(settings, HOUR).returncode == 0
    folder = dedupe_dir(settings.data_dir)
    assert sorted(p.name for p in folder.glob("gen-*.table")) == ["gen-0.table", "gen-1.table"]
    return start_ms, folder


HOUR = {"GMV_DEDUPE_HORIZON_H": "1"}


@pytest.mark.parametrize("tamper", [
    "oldest_of_the_newest",
    "last_arrival_of_the_oldest"])
def test_a_tampered_header_of_two_generations_forgets_nothing_within_the_horizon(
        redis_client: redis.Redis, settings: Settings, tamper: str) -> None:
    from tests.integration.test_dedupe_files import arrive
    start_ms, folder = two_generations(redis_client, settings)
    if tamper == "oldest_of_the_newest":
        set_word(folder / "gen-1.table", _OLDEST, 1)
    else:
        set_word(folder / "gen-0.table", _LAST_ARRIVAL, 1)
    # a and b sent again 5 minutes after b: all within the hour, all duplicates
    arrive(redis_client, settings, "a", start_ms + 45 * 60_000)
    arrive(redis_client, settings, "b", start_ms + 46 * 60_000)
    done = run(settings, HOUR)
    assert done.returncode == 0, done.stderr[-3000:]
    totals = read_summary(settings.data_dir)
    assert (totals["orders"], totals["duplicates"]) == (600, 600), done.stderr[-2500:]


_RECORD = 0x4A524E4C_32


@pytest.mark.parametrize("slot", [1 << 40, 1 << 63])
def test_a_journal_record_naming_a_slot_past_the_table_is_rebuilt_not_a_crash(
        redis_client: redis.Redis, settings: Settings, slot: int) -> None:
    path = first_night(redis_client, settings)
    checkpoint = word(path, _CHECKPOINT)
    record = np.array([_RECORD, checkpoint + 1, 0, 0, 1, slot], np.uint64)
    (path.parent / "journal").write_bytes(record.tobytes())
    assert_exact_after_resend(redis_client, settings)


def test_a_tampered_last_arrival_is_refused_and_its_generations_resends_stay_duplicates(
        redis_client: redis.Redis, settings: Settings) -> None:
    """gen-0's last arrival set back to 1970 (it would be dropped as behind the horizon,
    though its orders arrived 45 minutes ago): refused at start, their resends stay duplicates."""
    from tests.integration.test_dedupe_files import arrive
    start_ms, folder = two_generations(redis_client, settings)
    set_word(folder / "gen-0.table", _LAST_ARRIVAL, 1)
    arrive(redis_client, settings, "c", start_ms + 45 * 60_000)  # a commit: gen-0 dropped
    assert run(settings, HOUR).returncode == 0
    arrive(redis_client, settings, "a", start_ms + 46 * 60_000)  # 46 min after a: within 1 h
    done = run(settings, HOUR)
    assert done.returncode == 0, done.stderr[-3000:]
    totals = read_summary(settings.data_dir)
    assert (totals["orders"], totals["duplicates"]) == (900, 300), done.stderr[-2500:]


def test_a_sibling_stores_dedupe_folder_copied_in_is_not_trusted(
        redis_client: redis.Redis, settings: Settings) -> None:
    """Two stores cloned from one empty store (the same fingerprint key), each fed its own
    stream to the same checkpoint: A's dedupe folder copied into B. B must not trust it: A's
    orders are new to B."""
    import time

    from tests.integration.test_dedupe_files import arrive
    a = settings.replace(orders_stream="s:a", data_dir=settings.data_dir / "a")
    b = settings.replace(orders_stream="s:b", data_dir=settings.data_dir / "b")
    assert run(a, {"GMV_ORDERS_STREAM": "s:a"}).returncode == 0  # an empty store
    shutil.copytree(a.data_dir, b.data_dir)
    now_ms = (int(time.time()) - 600) * 1000
    arrive(redis_client, a, "a", now_ms)
    # B's stream its own: its entries' ids differ from A's (the same ids at the same checkpoint
    # of two clones would pass: the store does not yet keep the table's checksum)
    arrive(redis_client, b, "z", now_ms + 1_000)
    assert run(a, {"GMV_ORDERS_STREAM": "s:a"}).returncode == 0
    assert run(b, {"GMV_ORDERS_STREAM": "s:b"}).returncode == 0
    shutil.rmtree(dedupe_dir(b.data_dir))
    shutil.copytree(dedupe_dir(a.data_dir), dedupe_dir(b.data_dir))
    arrive(redis_client, b, "a", now_ms + 60_000)  # new to B
    done = run(b, {"GMV_ORDERS_STREAM": "s:b"})
    assert done.returncode == 0, done.stderr[-3000:]
    totals = read_summary(b.data_dir)
    assert (totals["orders"], totals["duplicates"]) == (600, 0), done.stderr[-2500:]


@pytest.mark.parametrize("damage", ["deleted", "torn_mid_record", "garbage_appended",
                                    "garbage_first_word", "records_doubled"])
def test_a_kill_after_the_table_took_a_batch_then_a_damaged_journal_stays_exact(
        redis_client: redis.Redis, settings: Settings, damage: str) -> None:
    """Killed between the table taking batches and their commit (the journal holds records of
    an uncommitted checkpoint), then the journal damaged: the next start is exact."""
    from tests.integration.test_dedupe_files import ingest
    StreamPublisher(redis_client, settings.orders_stream).publish(list(sample_payloads()))
    ingest(settings, SMALL, fault="after_dedupe_table:3")
    journal = dedupe_dir(settings.data_dir) / "journal"
    raw = journal.read_bytes()
    assert len(raw) > 64
    if damage == "deleted":
        journal.unlink()
    elif damage == "torn_mid_record":
        journal.write_bytes(raw[: len(raw) // 2 + 3])
    elif damage == "garbage_appended":
        journal.write_bytes(raw + os.urandom(4096))
    elif damage == "garbage_first_word":
        journal.write_bytes(b"\xff" * 8 + raw[8:])
    else:
        journal.write_bytes(raw + raw)
    said = assert_exact_after_resend(redis_client, settings)
    print(said[-400:])
