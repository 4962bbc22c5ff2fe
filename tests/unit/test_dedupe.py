"""First accepted version wins, whatever the ids, the batches and the table's size: the flat
fingerprint table against a plain Python set."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.dedupe import SeenOrders, fingerprints

KEY = (0x0123456789ABCDEF, 0xFEDCBA9876543210)
ids = st.text(min_size=1, max_size=64).filter(lambda s: len(s) <= 64)


def fp(values: list[str], key: tuple[int, int] = KEY) -> tuple[np.ndarray, np.ndarray]:
    return fingerprints(pa.array(values, pa.string()), key)


@settings(max_examples=80)
@given(st.lists(st.lists(ids, max_size=50), max_size=12))
def test_first_seen_is_exactly_a_set_of_ids(batches: list[list[str]]) -> None:
    seen = SeenOrders(expected_orders=1)  # the smallest table: it has to grow
    remembered: set[str] = set()
    for batch in batches:
        new = seen.first_seen(*fp(batch))
        expected = []
        for order_id in batch:
            expected.append(order_id not in remembered)
            remembered.add(order_id)
        assert new.tolist() == expected
    assert seen.count == len(remembered)


@given(st.lists(ids, min_size=1, max_size=40, unique=True))
def test_a_fingerprint_depends_on_the_id_and_the_key_alone(values: list[str]) -> None:
    hi, lo = fp(values)
    for i, value in enumerate(values):  # alone, in another batch: the same
        one_hi, one_lo = fp([value])
        assert (one_hi[0], one_lo[0]) == (hi[i], lo[i])
    assert len(set(zip(hi.tolist(), lo.tolist(), strict=True))) == len(values)
    other_hi, _ = fp(values, (1, 2))
    assert not np.array_equal(other_hi, hi)


def test_a_million_orders_grow_the_table_and_none_is_forgotten() -> None:
    seen = SeenOrders(expected_orders=1_000)
    values = [f"20261111-1-{i:09d}" for i in range(1_000_000)]
    hi, lo = fp(values)
    for start in range(0, len(values), 50_000):
        assert seen.first_seen(hi[start:start + 50_000], lo[start:start + 50_000]).all()
    for start in range(0, len(values), 50_000):
        assert not seen.first_seen(hi[start:start + 50_000], lo[start:start + 50_000]).any()
    assert seen.count == 1_000_000


def test_a_remembered_order_costs_under_forty_bytes() -> None:
    seen = SeenOrders(expected_orders=2_000_000)
    rng = np.random.default_rng(7)
    hi = rng.integers(0, 2**63, 2_000_000, dtype=np.int64).view(np.uint64) * np.uint64(2)
    lo = rng.integers(0, 2**63, 2_000_000, dtype=np.int64).view(np.uint64)
    seen.first_seen(hi, lo)
    assert seen.nbytes / seen.count <= 40
