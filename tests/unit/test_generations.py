"""The dedupe table's files: what a start finds in them is what the store committed, never more
(a crash between the table taking a batch and its commit) and never less; files that cannot be
proven to match the store are refused, whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.generations import (
    Generations,
    Untrusted,
    boot_digest,
    create_generation,
    finish_rebuild,
    fresh_generation,
    open_generations,
)

KEY = 0x1234_5678_9ABC_DEF1
HOUR_S = 3600


def keys(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64) * np.uint64(2) + np.uint64(1),
            rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64))


def new_tables(folder: Path, generation_orders: int = 1 << 20) -> Generations:
    made = finish_rebuild(fresh_generation(folder, generation_orders, KEY, 0, 1_000))
    return Generations(folder, [made], 0, generation_orders, lambda step: None)


def reopened(folder: Path, checkpoint: int, generation_orders: int = 1 << 20) -> Generations:
    opened = open_generations(folder, KEY, checkpoint)
    return Generations(folder, opened.generations, checkpoint, generation_orders,
                       lambda step: None)


def test_a_crash_before_the_commit_forgets_the_batch_and_keeps_the_committed(
        tmp_path: Path) -> None:
    tables = new_tables(tmp_path)
    committed, lost = keys(5_000, 1), keys(5_000, 2)
    assert tables.first_seen(*committed).all()
    tables.committed(1, 1_001)
    assert tables.first_seen(*lost).all()
    tables.close(clean=False)  # as a kill leaves them: the lost batch's slots are filled

    again = reopened(tmp_path, checkpoint=1)
    assert not again.first_seen(*committed).any()
    assert again.first_seen(*lost).all()  # new again: its checkpoint was never committed
    assert again.count == 10_000


def test_a_crash_between_the_commit_and_the_header_keeps_the_batch(tmp_path: Path) -> None:
    tables = new_tables(tmp_path)
    batch = keys(3_000, 3)
    tables.first_seen(*batch)
    tables.close(clean=False)  # the store committed checkpoint 1; the headers still say 0
    again = reopened(tmp_path, checkpoint=1)
    assert not again.first_seen(*batch).any()


def test_a_clean_close_is_trusted_and_a_full_generation_gives_way_to_a_new_one(
        tmp_path: Path) -> None:
    tables = new_tables(tmp_path, generation_orders=1 << 16)  # 2^17 slots: ~104k orders
    batches = [keys(30_000, seed) for seed in range(10, 16)]
    for checkpoint, batch in enumerate(batches, 1):
        assert tables.first_seen(*batch).all()
        tables.committed(checkpoint, 1_000 + checkpoint)
    assert len(tables.live) >= 2
    tables.close(clean=True)
    again = reopened(tmp_path, checkpoint=len(batches), generation_orders=1 << 16)
    for batch in batches:
        assert not again.first_seen(*batch).any()
    assert again.count == 180_000


def test_a_generation_behind_the_horizon_is_dropped_whole(tmp_path: Path) -> None:
    tables = new_tables(tmp_path)
    old, recent, now = keys(1_000, 20), keys(1_000, 21), keys(1_000, 22)
    tables.first_seen(*old)
    tables.committed(1, 1_000)
    tables.age(1_000 + 25 * HOUR_S, 48 * HOUR_S, 1)  # half the horizon: a new generation
    tables.first_seen(*recent)
    tables.committed(2, 1_000 + 25 * HOUR_S)
    tables.age(1_000 + 50 * HOUR_S, 48 * HOUR_S, 2)  # the first is behind the horizon
    assert [g.number for g in tables.live] == [1, 2]
    assert not (tmp_path / "gen-0.table").exists()
    assert tables.first_seen(*old).all()
    assert not tables.first_seen(*recent).any()
    tables.first_seen(*now)
    tables.committed(3, 1_000 + 50 * HOUR_S)
    tables.close(clean=False)
    again = reopened(tmp_path, checkpoint=3)
    assert not again.first_seen(*now).any() and not again.first_seen(*old).any()


def test_a_drop_cut_short_is_finished_at_the_next_start(tmp_path: Path) -> None:
    tables = new_tables(tmp_path)
    old, recent = keys(1_000, 30), keys(1_000, 31)
    tables.first_seen(*old)
    tables.committed(1, 1_000)
    tables.age(1_000 + 25 * HOUR_S, 48 * HOUR_S, 1)
    tables.first_seen(*recent)
    tables.committed(2, 1_000 + 25 * HOUR_S)

    def killed(step: str) -> None:
        raise SystemExit(step)
    tables.reached = killed
    with pytest.raises(SystemExit):
        tables.age(1_000 + 50 * HOUR_S, 48 * HOUR_S, 2)
    assert (tmp_path / "gen-0.table").exists()
    for generation in tables.live:
        generation.close()
    tables.journal.close()
    again = reopened(tmp_path, checkpoint=2)
    assert [g.number for g in again.live] == [1, 2] and not (tmp_path / "gen-0.table").exists()
    assert not again.first_seen(*recent).any()


def _header(path: Path, word: int, value: int) -> None:
    with path.open("r+b") as file:
        file.seek(word * 8)
        file.write(value.to_bytes(8, "little"))


@pytest.mark.parametrize("damage", ["missing_newest", "foreign_key", "ahead", "far_behind",
                                    "torn", "other_boot", "not_a_table"])
def test_files_that_cannot_be_proven_to_match_the_store_are_refused(
        tmp_path: Path, damage: str) -> None:
    tables = new_tables(tmp_path)
    tables.first_seen(*keys(1_000, 40))
    tables.committed(1, 1_000)
    tables.age(1_000 + 25 * HOUR_S, 48 * HOUR_S, 1)
    tables.committed(2, 1_000 + 25 * HOUR_S)
    tables.close(clean=False)
    newest, checkpoint = tmp_path / "gen-1.table", 2
    if damage == "missing_newest":
        newest.unlink()
    elif damage == "foreign_key":
        _header(newest, 2, KEY ^ 1)
    elif damage == "ahead":
        checkpoint = 1
    elif damage == "far_behind":
        checkpoint = 4
    elif damage == "torn":
        with newest.open("r+b") as file:
            file.truncate(newest.stat().st_size - 4096)
    elif damage == "other_boot":
        _header(newest, 11, boot_digest() ^ 2)
    elif damage == "not_a_table":
        _header(newest, 0, 0)
    with pytest.raises(Untrusted):
        open_generations(tmp_path, KEY, checkpoint)


@pytest.mark.parametrize("where", ["nowhere", "filled", "empty"])
@pytest.mark.parametrize("clean", [True, False])
def test_a_slot_changed_on_disk_is_refused(tmp_path: Path, where: str, clean: bool) -> None:
    """One byte of one slot, flipped behind the table's back (a bad sector, a stray write): a
    filled slot that changed could make a new order a duplicate; an empty one that changed could
    make one the store never took. The checksum refuses both, clean close or not; untouched
    files are trusted, a crash between the commit and the headers included (the journal's
    records count)."""
    tables = new_tables(tmp_path)
    tables.first_seen(*keys(20_000, 50))
    tables.committed(1, 1_001)
    tables.first_seen(*keys(20_000, 51))  # committed by the store (checkpoint 2) ...
    if clean:
        tables.committed(2, 1_002)
    table = tables.live[0].seen.table
    slot = int(np.flatnonzero(table)[7] if where == "filled" else np.flatnonzero(table == 0)[7])
    tables.close(clean=clean)  # ... and, unclean, the headers still say 1
    if where != "nowhere":
        path = tmp_path / "gen-0.table"
        with path.open("r+b") as file:
            file.seek(4096 + slot * 8 + 3)
            byte = file.read(1)[0]
            file.seek(4096 + slot * 8 + 3)
            file.write(bytes([byte ^ 0x10]))
        with pytest.raises(Untrusted, match="changed on disk"):
            open_generations(tmp_path, KEY, 2)
        return
    again = reopened(tmp_path, checkpoint=2)
    assert again.count == 40_000
    again.close(clean=False)  # a crash before its first commit: the start's headers hold
    assert reopened(tmp_path, checkpoint=2).count == 40_000


def test_a_rebuild_cut_short_leaves_nothing_trusted(tmp_path: Path) -> None:
    fresh_generation(tmp_path, 1 << 20, KEY, 5, 1_000)  # a crash before finish_rebuild
    with pytest.raises(Untrusted):
        open_generations(tmp_path, KEY, 5)
    assert not list(tmp_path.glob("*.tmp"))


def resident_file_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("RssFile:")[1].split()[0])


def test_a_new_generation_takes_its_disk_now_and_its_memory_once_filled(tmp_path: Path) -> None:
    """Its blocks are allocated at creation (a full disk is said then, not a SIGBUS when a page
    is first written later); its pages are not resident until slots are filled."""
    before = resident_file_kib()
    made = create_generation(tmp_path, 0, 50_000_000, KEY, 0, 0, oldest=0)
    stat = made.path.stat()
    assert stat.st_size > 512 << 20 and stat.st_blocks * 512 >= stat.st_size
    assert resident_file_kib() - before < 64 << 10  # not its 512 MiB
    made.close()
