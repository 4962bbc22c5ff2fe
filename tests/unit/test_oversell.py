"""The oversell watch on its own: an alert ends once its item stops selling beyond its stock, and
only a sale beyond the stock (or a stock change that takes the item past it) opens another."""

from __future__ import annotations

import json

import pyarrow as pa

from ingest.detect.alerts import FIRING, RESOLVED, AlertBook
from ingest.detect.oversell import OVERSELL_ENDS_AFTER_MS, OversellWatch

T0 = 1_794_326_400_000 + 60_000


def sales(*rows: tuple[str, int, int]) -> pa.Table:
    """(item, quantity, ts_ms) in arrival order."""
    return pa.table({"item_id": pa.array([r[0] for r in rows], pa.string()),
                     "quantity": pa.array([r[1] for r in rows], pa.int64()),
                     "ts_ms": pa.array([r[2] for r in rows], pa.int64())})


def stock(watch: OversellWatch, item: str, units: int, ts_ms: int) -> set[str]:
    return watch.add_inventory([json.dumps({"item_id": item, "ts": ts_ms, "stock": units}).encode()])


def oversold_then_ended() -> tuple[OversellWatch, AlertBook]:
    watch, book = OversellWatch(), AlertBook()
    changed = stock(watch, "i-hot", 1, T0 - 60_000)
    watch.after_checkpoint(sales(("i-hot", 2, T0)), book, changed, T0)
    watch.after_checkpoint(sales(("i-other", 1, T0 + 400_000)), book, set(), T0 + 400_000)
    (first,) = book.alerts
    assert first.state == RESOLVED and first.end_ms == T0 + OVERSELL_ENDS_AFTER_MS
    return watch, book


def test_the_same_stock_declared_again_after_an_oversell_ended_opens_no_new_one() -> None:
    """Nothing more was sold: a re-declaration of the stock (a feed that re-sends it, or the
    worker reading the inventory stream again at a restart) is no new oversell."""
    watch, book = oversold_then_ended()
    changed = stock(watch, "i-hot", 1, T0 + 450_000)
    changes = watch.after_checkpoint(sales(("i-other", 1, T0 + 460_000)), book, changed,
                                     T0 + 460_000)
    assert changes == [] and len(book.alerts) == 1, book.alerts


def test_an_oversell_a_stock_change_opens_never_ends_before_it_starts() -> None:
    """Stock lowered below what was sold after the first oversell ended: a new alert from the
    change, which ends no earlier than it starts."""
    watch, book = oversold_then_ended()
    changed = stock(watch, "i-hot", 0, T0 + 450_000)
    watch.after_checkpoint(sales(("i-other", 1, T0 + 460_000)), book, changed, T0 + 460_000)
    for alert in book.alerts:
        assert alert.end_ms is None or alert.end_ms >= alert.start_ms, alert
    again = book.alerts[-1]
    assert again.state == FIRING and again.start_ms == T0 + 460_000, book.alerts


def test_a_late_sale_beyond_the_stock_after_an_oversell_ended_is_an_alert_of_its_own_key() -> None:
    """A late order of the item (event time at the first oversell's start, arriving after it
    ended): the new alert must not share the first's key, or acknowledging one (the acks hash is
    by key) acknowledges both, and /ops draws two rows with one id."""
    watch, book = oversold_then_ended()
    watch.after_checkpoint(sales(("i-hot", 1, T0)), book, set(), T0 + 460_000)
    assert len(book.alerts) == 2
    first, late = book.alerts
    assert late.key != first.key, (first, late)
    # Told from the first one's end on, and ends no earlier than it starts.
    assert late.start_ms == first.end_ms + 1000 and late.state == FIRING, late
    watch.after_checkpoint(sales(("i-other", 1, T0 + 900_000)), book, set(), T0 + 900_000)
    assert late.state == RESOLVED and late.end_ms >= late.start_ms, late
