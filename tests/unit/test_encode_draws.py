"""The simulator's fixed-width encoder writes what the contract's reference encoder writes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import Order
from rehearsal.encode import digits, encode_draws
from rehearsal.festival import OrderDraws
from rehearsal.simulate import NAMES


@settings(max_examples=40)
@given(st.integers(0, 2**32), st.integers(1, 300))
def test_simulated_payloads_match_the_reference_byte_for_byte(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    draws = OrderDraws(
        ts_ms=rng.integers(10**12, 10**13, n), device=rng.integers(0, 4, n),
        category=rng.integers(0, len(NAMES["category"]), n),
        region=rng.integers(0, len(NAMES["region"]), n),
        payment=rng.integers(0, len(NAMES["payment"]), n), merchant=rng.integers(0, 10**5, n),
        slot=rng.integers(0, 100, n), buyer=rng.integers(0, 10**7, n),
        quantity=rng.integers(1, 10_001, n), amount_cents=rng.integers(1, 10**9 + 1, n))
    numbers = rng.integers(0, 10**9, n)
    expected = [Order(order_id=f"20261111-7-{numbers[i]:09d}", ts_ms=int(draws.ts_ms[i]),
                      amount_cents=int(draws.amount_cents[i]),
                      device=NAMES["device"][draws.device[i]],
                      category=NAMES["category"][draws.category[i]],
                      region=NAMES["region"][draws.region[i]],
                      merchant_id=f"m{draws.merchant[i]:05d}", buyer_id=f"u{draws.buyer[i]:07d}",
                      item_id=f"i{draws.merchant[i] * 100 + draws.slot[i]:07d}",
                      quantity=int(draws.quantity[i]), payment=NAMES["payment"][draws.payment[i]],
                      ).to_payload() for i in range(n)]
    assert encode_draws(draws, numbers, "20261111-7-", NAMES) == expected


def test_a_number_too_wide_for_its_field_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit in 5 digits"):
        digits(np.array([100_000]), 5)
