"""What every exactness test checks: the totals against the ground truth, the dead letters
against the rejected payloads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import redis

from ingest.contract import InvalidEvent, format_cents, parse_order
from ingest.history import history_parts, orders_view
from tests.sample import TRUTH


def assert_matches_truth(totals: dict[str, Any], truth: dict[str, Any] = TRUTH) -> None:
    assert totals["gmv"] == truth["gmv"]
    assert totals["orders"] == truth["accepted"]
    assert (totals["rejected"], totals["duplicates"]) == (truth["rejected"], truth["duplicates"])
    assert totals["orders"] + totals["rejected"] + totals["duplicates"] == truth["sent"]
    assert totals["by_device"] == {d: truth["by_device"][d] for d in sorted(truth["by_device"])}


def assert_matches_truth_of_streams(totals: dict[str, Any], truth: dict[str, Any],
                                    in_streams: int) -> None:
    """As assert_matches_truth, when the streams may hold more than the recording: a producer
    re-sends a batch it could not confirm (redis-py's cluster pipeline does, on a node's
    CLUSTERDOWN or a timeout mid-batch), and every re-sent entry is a duplicate or a rejected
    one, never GMV. Exact: what the streams hold beyond the recording is what they counted beyond
    its truth."""
    assert totals["gmv"] == truth["gmv"]
    assert totals["orders"] == truth["accepted"]
    assert totals["by_device"] == {d: truth["by_device"][d] for d in sorted(truth["by_device"])}
    resent = in_streams - truth["sent"]
    assert resent >= 0, f"the streams hold {-resent} entries fewer than were recorded"
    assert totals["rejected"] >= truth["rejected"] and totals["duplicates"] >= truth["duplicates"]
    assert (totals["rejected"] - truth["rejected"]) + (totals["duplicates"] - truth["duplicates"]) \
        == resent, (totals["rejected"], totals["duplicates"], truth, in_streams)


def history_totals(data_dir: Path) -> dict[str, Any]:
    """The contract's totals counted again from the committed order files alone."""
    db = duckdb.connect()
    orders_view(db, history_parts(data_dir))
    gmv, count = db.execute("SELECT coalesce(sum(amount_cents), 0), count(*) FROM orders").fetchone() \
        or (0, 0)
    devices = db.execute("SELECT device, sum(amount_cents), count(*) FROM orders GROUP BY 1").fetchall()
    return {"gmv": format_cents(int(gmv)), "orders": int(count),
            "by_device": {d: {"gmv": format_cents(int(g)), "orders": int(n)}
                          for d, g, n in sorted(devices)}}


def assert_history_matches_truth(data_dir: Path, truth: dict[str, Any] = TRUTH) -> None:
    totals = history_totals(data_dir)
    assert (totals["gmv"], totals["orders"]) == (truth["gmv"], truth["accepted"])
    assert totals["by_device"] == {d: truth["by_device"][d] for d in sorted(truth["by_device"])}


def dead_letters(client: redis.Redis, stream: str) -> dict[bytes, bytes]:
    """Each dead-lettered entry once: source entry id -> its payload. The dead-letter stream is
    at-least-once (docs/architecture.md): a repeat carries the same source id and the same bytes,
    and every letter says why."""
    kept: dict[bytes, bytes] = {}
    for _, fields in client.xrange(stream):
        assert fields[b"reason"], "a dead letter without a reason"
        source, payload = fields[b"source_id"], fields[b"data"]
        assert kept.setdefault(source, payload) == payload, f"{source!r} repeated with other bytes"
    return kept


def assert_every_rejected_is_dead_lettered(client: redis.Redis, stream: str,
                                           rejected: Counter[bytes]) -> None:
    """The dead letters are exactly the rejected payloads, byte for byte, each once."""
    assert Counter(dead_letters(client, stream).values()) == rejected


def assert_dead_letters_are_the_rejected(client: redis.Redis, stream: str, count: int) -> None:
    """Without the reference fates of a whole night at hand: `count` distinct entries, each one
    rejected by the contract."""
    kept = dead_letters(client, stream)
    assert len(kept) == count
    for payload in kept.values():
        try:
            parse_order(payload)
        except InvalidEvent:
            continue
        raise AssertionError(f"dead-lettered, yet valid: {payload[:200]!r}")
