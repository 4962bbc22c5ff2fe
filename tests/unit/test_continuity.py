"""Entries removed from the stream before they were read: found from what XINFO STREAM says,
counted where the server can tell, said once."""

from __future__ import annotations

from ingest.continuity import MISSING, StreamInfo, find_gap

NOW = 1_794_326_400_000


def info(first: str | None, last: str, length: int, added: int | None = None,
         deleted: str | None = None) -> StreamInfo:
    return StreamInfo(True, length, last, first, deleted if added is not None else None, added)


def test_a_stream_read_to_its_end_and_trimmed_by_the_worker_has_no_gap() -> None:
    # Redis 7: the worker's own MINID trim keeps the committed entry; 10 read, 1 left.
    assert find_gap("s", info("1-9", "1-9", 1, added=10), "1-9", 10, None, NOW) is None


def test_a_trim_past_the_last_entry_read_is_a_gap_on_either_server() -> None:
    gap = find_gap("s", info("5-0", "9-0", 4, added=10), "2-0", 3, None, NOW)
    assert gap is not None and not gap.reset and gap.after_id == "2-0" and gap.before_id == "5-0"
    old = find_gap("s", info("5-0", "9-0", 4), "2-0", 3, None, NOW)  # 6.2: no count
    assert old is not None and old.lost is None


def test_an_older_server_says_a_cut_once() -> None:
    assert find_gap("s", info("5-0", "9-0", 4), "2-0", 3, "5-0", NOW) is None


def test_a_stream_trimmed_to_nothing_is_a_candidate_only_on_redis_7() -> None:
    assert find_gap("s", info(None, "9-0", 0, added=10), "2-0", 3, None, NOW) is not None
    assert find_gap("s", info(None, "9-0", 0), "2-0", 3, None, NOW) is None


def test_an_xdel_beyond_the_position_is_a_gap_and_below_it_is_none() -> None:
    ahead = find_gap("s", info("1-0", "9-0", 8, added=10, deleted="6-0"), "2-0", 2, None, NOW)
    assert ahead is not None and ahead.through_id == "6-0"
    assert find_gap("s", info("1-0", "9-0", 8, added=10, deleted="1-5"), "2-0", 2, None,
                    NOW) is None
    assert find_gap("s", info("1-0", "9-0", 8, added=10, deleted="6-0"), "2-0", 2, "6-0",
                    NOW) is None  # said before


def test_a_stream_gone_restarts_from_its_start_and_one_gone_back_reads_on_from_the_position(
        ) -> None:
    gone = find_gap("s", MISSING, "7-0", 5, None, NOW)
    assert gone is not None and gone.reset and gone.cause == "restarted" and gone.recount == 0
    assert "another stream" in gone.message()
    behind = find_gap("s", info("1-1", "3-0", 2, added=2), "7-0", 5, None, NOW)
    assert behind is not None and not behind.reset and behind.cause == "behind"
    assert behind.recount == 2 and "went back to 3-0" in behind.message()
    assert find_gap("s", info("1-1", "3-0", 2, added=2), "7-0", 5, None, NOW,
                    behind_reported=True) is None  # said once
    assert find_gap("s", MISSING, None, 0, None, NOW) is None  # never read: nothing to lose


def test_the_raw_reply_and_redis_pys_dict_read_the_same() -> None:
    raw = [b"length", 2, b"last-generated-id", b"5-1", b"max-deleted-entry-id", b"0-0",
           b"entries-added", 7, b"first-entry", [b"5-0", [b"data", b"{}"]]]
    parsed = {"length": 2, "last-generated-id": "5-1", "max-deleted-entry-id": "0-0",
              "entries-added": 7, "first-entry": ("5-0", {b"data": b"{}"})}
    assert StreamInfo.from_reply(raw) == StreamInfo.from_reply(parsed) == StreamInfo(
        True, 2, "5-1", "5-0", "0-0", 7)
