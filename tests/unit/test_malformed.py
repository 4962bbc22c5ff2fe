"""The malformed corpus is really malformed, and safe to keep in a JSON Lines file."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.contract import Fate, judge
from rehearsal.malformed import MAKERS, malformed_payloads


@pytest.mark.parametrize("kind", list(MAKERS))
def test_every_kind_of_malformed_payload_is_rejected(kind: str) -> None:
    payload = MAKERS[kind](f"id-{kind}")
    (verdict,) = judge([payload], set())
    assert verdict.fate is Fate.REJECTED, kind
    assert b"\n" not in payload


def test_a_seeded_corpus_is_reproducible_and_all_rejected() -> None:
    first = malformed_payloads(np.random.default_rng(7), 500, "x")
    assert first == malformed_payloads(np.random.default_rng(7), 500, "x")
    assert all(v.fate is Fate.REJECTED for v in judge(first, set()))
