"""Recorded nights go through a real Redis byte for byte, malformed lines included."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis

from common.settings import Settings
from gmv.cli import main
from ingest.contract import parse_order
from rehearsal.incidents import every_kind
from rehearsal.recordings import read_jsonl
from rehearsal.replay import replay
from rehearsal.run import simulate_to_file, simulate_to_stream
from rehearsal.simulate import NightPlan


def stream_payloads(client: redis.Redis, stream: str) -> list[bytes]:
    return [fields[b"data"] for _, fields in client.xrange(stream)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("night") / "night.jsonl"
    plan = NightPlan(seed=11, peak_ops=150, duration_s=240,
                     incidents=tuple(every_kind(-120, 240, 11)))
    simulate_to_file(plan, path, "test")
    return path


def test_replay_publishes_every_line_verbatim(recording: Path, redis_client: redis.Redis,
                                              settings: Settings) -> None:
    lines = [line for batch in read_jsonl(recording) for line in batch]
    result = replay(recording, redis_client, settings, speed=None, retime=False)
    assert result.published == len(lines)
    assert stream_payloads(redis_client, settings.orders_stream) == lines
    labels = json.loads(recording.with_name("night.labels.json").read_text())
    assert labels["truth"]["sent"] == len(lines) and labels["truth"]["rejected"] > 0
    assert redis_client.xlen(settings.inventory_stream) == result.inventory > 0


def test_replay_through_the_command_line_with_max(recording: Path, redis_client: redis.Redis,
                                                  settings: Settings) -> None:
    code = main(["replay", str(recording), "--max", "--redis", str(settings.redis_url), "-q"])
    assert code == 0
    assert redis_client.xlen(settings.orders_stream) == sum(1 for _ in _lines(recording))


def _lines(path: Path) -> list[bytes]:
    return [line for batch in read_jsonl(path) for line in batch]


def test_parquet_replay_carries_the_same_orders(tmp_path: Path, redis_client: redis.Redis,
                                                settings: Settings) -> None:
    plan = NightPlan(seed=12, peak_ops=100, duration_s=60)
    simulate_to_file(plan, tmp_path / "n.jsonl", "test")
    simulate_to_file(plan, tmp_path / "n.parquet", "test")
    replay(tmp_path / "n.parquet", redis_client, settings, speed=None, retime=False)
    valid = [parse_order(p) for p in _lines(tmp_path / "n.jsonl") if _valid(p)]
    assert [parse_order(p) for p in stream_payloads(redis_client, settings.orders_stream)] == valid


def _valid(payload: bytes) -> bool:
    try:
        parse_order(payload)
    except ValueError:
        return False
    return True


def test_retime_shifts_event_times_to_now_and_keeps_the_rest(recording: Path,
                                                             redis_client: redis.Redis,
                                                             settings: Settings) -> None:
    before_ms = int(time.time() * 1000)
    replay(recording, redis_client, settings, speed=None, retime=True)
    sent = stream_payloads(redis_client, settings.orders_stream)
    original = _lines(recording)
    first = next(parse_order(p) for p in sent if _valid(p))
    assert before_ms - 1000 <= first.ts_ms <= int(time.time() * 1000)
    shift = first.ts_ms - next(parse_order(p) for p in original if _valid(p)).ts_ms
    malformed = 0
    for was, now in zip(original, sent, strict=True):
        if _valid(was):
            assert parse_order(now).ts_ms == parse_order(was).ts_ms + shift
            assert parse_order(now).amount_cents == parse_order(was).amount_cents
            continue
        # A malformed line keeps every byte but the digits of its first integer `ts`.
        malformed += 1
        stamp = re.search(rb'"ts"\s*:\s*(-?\d{1,19})(?=[\s,}])', was)
        if stamp is None:
            assert now == was
        else:
            moved = str(int(stamp[1]) + shift).encode()
            assert now == was[:stamp.start(1)] + moved + was[stamp.end(1):]
    assert malformed > 100


def test_paced_replay_keeps_relative_timing(tmp_path: Path, redis_client: redis.Redis,
                                            settings: Settings) -> None:
    plan = NightPlan(seed=13, peak_ops=20, start_s=3600, duration_s=20)
    simulate_to_file(plan, tmp_path / "slow.jsonl", "test")
    started = time.monotonic()
    replay(tmp_path / "slow.jsonl", redis_client, settings, speed=10.0, retime=False)
    # 20 s of night at 10x: 2 s of wall time, never faster (a slow machine may take longer).
    assert 1.5 <= time.monotonic() - started <= 15


def test_simulate_publishes_stock_then_orders_and_writes_labels(redis_client: redis.Redis,
                                                               settings: Settings) -> None:
    plan = NightPlan(seed=14, peak_ops=50, duration_s=60)
    labels = settings.data_dir / "labels.json"
    sim = simulate_to_stream(plan, redis_client, settings, None, labels, "test")
    assert redis_client.xlen(settings.orders_stream) == sim.truth.sent
    assert json.loads(labels.read_text())["truth"]["accepted"] == sim.truth.accepted
