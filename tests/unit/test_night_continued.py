"""A night continued (issue #24, item 1): a second `gmv demo` on the same data dir draws the night
on from where the first stopped, under order ids of its own, instead of replaying it from 23:59
(all re-sends: every screen stood still while the worker counted duplicates)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path

import pytest

from gmv.demo import night_clock
from gmv.demo_night import CONTINUED, NEW, OVER, read_record, tonight, write_record
from rehearsal.simulate import NightPlan, NightSimulator

PLAN = NightPlan(seed=3, peak_ops=300, start_s=-60, duration_s=300)


def _order_ids(payloads: list[bytes]) -> set[str]:
    ids = set()
    for payload in payloads:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # the night's malformed ones
            ids.add(json.loads(payload)["order_id"])
    return ids


def test_a_night_continued_draws_every_second_once_under_new_order_ids() -> None:
    first = NightSimulator(PLAN)
    first_ids: set[str] = set()
    for batch in first.batches():
        first_ids |= _order_ids(batch.payloads)
        if batch.through_s == 60:
            break  # stopped here: Ctrl-C after this batch
    rest = NightSimulator(NightPlan(seed=3, peak_ops=300, start_s=-60, duration_s=300,
                                    resume_s=60))
    rest_ids: set[str] = set()
    for batch in rest.batches():
        rest_ids |= _order_ids(batch.payloads)
    whole = NightSimulator(PLAN)
    for _ in whole.batches():
        pass
    assert first_ids and rest_ids and not first_ids & rest_ids  # nothing counted as a re-send
    # The same draws, each second once: the two runs' orders and GMV are the whole night's.
    assert first.truth.accepted + rest.truth.accepted == whole.truth.accepted
    assert first.truth.gmv_cents + rest.truth.gmv_cents == whole.truth.gmv_cents


@pytest.mark.parametrize("resume_s", [-61, -55, 241, 1000])
def test_a_night_continues_only_from_a_chunk_boundary_within_it(resume_s: int) -> None:
    with pytest.raises(ValueError, match="chunk boundary"):
        NightPlan(start_s=-60, duration_s=300, resume_s=resume_s)


def test_the_demo_record_says_new_then_continued_then_over(tmp_path: Path) -> None:
    mode, night, plan = tonight(tmp_path, PLAN, 1_000)
    assert (mode, plan.first_s) == (NEW, -60)
    night.published_to_s = 120
    write_record(tmp_path, night)
    other = NightPlan(seed=9, peak_ops=50, start_s=-60, duration_s=300)  # asked for another night
    mode, night, plan = tonight(tmp_path, other, 2_000)
    assert (mode, plan.first_s, plan.seed, plan.peak_ops) == (CONTINUED, 120, 3, 300)
    record = read_record(tmp_path)
    assert record is not None and record.runs[-1] == {"mode": CONTINUED, "from_s": 120,
                                                      "wall_ms": 2_000}
    night.published_to_s = night.end_s
    write_record(tmp_path, night)
    assert tonight(tmp_path, PLAN, 3_000)[0] == OVER
    (tmp_path / "demo-night.json").write_text("{not json")  # damaged: a new night, not a crash
    assert tonight(tmp_path, PLAN, 4_000)[0] == NEW


def test_the_night_clock_reads_seconds_from_midnight() -> None:
    assert [night_clock(s) for s in (-60, 0, 750, 86_399)] == \
        ["23:59:00", "00:00:00", "00:12:30", "23:59:59"]


def _orders_per_second(payloads: list[bytes], midnight_ms: int) -> Counter[int]:
    seconds: Counter[int] = Counter()
    for payload in payloads:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # the night's malformed ones
            order = json.loads(payload)
            if "retry" not in order:
                seconds[(order["ts"] - midnight_ms) // 1000] += 1
    return seconds


def test_a_run_stopped_mid_chunk_is_continued_without_drawing_its_seconds_twice(
        tmp_path: Path) -> None:
    """Issue #24, item 4: Ctrl-C lands inside a chunk's publishing; the next run drew the whole
    chunk again under new ids, so its first seconds counted about twice (a spike at ~2x)."""
    _, night, plan = tonight(tmp_path, PLAN, 1_000)
    cut_ms = plan.midnight_ms + 64_500  # the stop: the chunk from 00:01:00 half sent
    sent: list[bytes] = []
    for batch in NightSimulator(plan).batches():
        if batch.through_s == 70:
            sent += batch.payloads[:int((batch.arrival_ms < cut_ms).sum())]
            break
        sent += batch.payloads
    night.published_to_s = 60
    write_record(tmp_path, night)
    record = json.loads((tmp_path / "demo-night.json").read_text())
    (tmp_path / "demo-night.json").write_text(json.dumps(record | {"published_ms": cut_ms}))
    _, _, rest = tonight(tmp_path, PLAN, 2_000)
    for batch in NightSimulator(rest).batches():
        sent += batch.payloads
    whole: list[bytes] = []
    for batch in NightSimulator(PLAN).batches():
        whole += batch.payloads
    counted = _orders_per_second(sent, plan.midnight_ms)
    truth = _orders_per_second(whole, plan.midnight_ms)
    # From the stop on, each second exactly once; before it, what was still in flight late is lost.
    assert {s: n for s, n in counted.items() if s >= 60} == {s: n for s, n in truth.items() if s >= 60}
    assert all(n <= truth[s] for s, n in counted.items())
