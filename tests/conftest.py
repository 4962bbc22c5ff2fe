"""Shared fixtures: one real embedded redis-server per test session, order factories."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import redis
from playwright.sync_api import Browser, sync_playwright

from common.redis_server import EmbeddedRedis, connect
from common.settings import Settings, load_settings
from ingest.contract import Order

MIDNIGHT_MS = 1_794_326_400_000  # 2026-11-11T00:00:00+08:00
CHROMIUM = os.environ.get("GMV_CHROMIUM", "/usr/bin/chromium")

# A property test's example that takes long on a loaded machine is no finding: no deadline (the
# fresh clone's CI failed a decoder property test at 335 ms against Hypothesis's 200 ms).
hypothesis.settings.register_profile("any_machine", deadline=None)
hypothesis.settings.load_profile("any_machine")


def wait_for(condition: Any, timeout_s: float, message: str) -> None:
    """Poll `condition` until it holds; fail with `message` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one for the whole session: Playwright's sync API runs one at a time in a
    process (a second `sync_playwright()` while the first is open fails), so every module shares
    this one and opens its own contexts."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install "
                    "chromium), or set GMV_CHROMIUM to another build")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture()
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = connect(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
def settings(redis_server: EmbeddedRedis, tmp_path: Path) -> Settings:
    return load_settings(env={}, redis_url=redis_server.url, data_dir=tmp_path / "data")


@pytest.fixture()
def order_factory() -> Callable[..., Order]:
    counter = iter(range(10**9))

    def make(**overrides: Any) -> Order:
        fields: dict[str, Any] = {
            "order_id": f"o-{next(counter)}", "ts_ms": MIDNIGHT_MS + 26_000,
            "amount_cents": 12_990, "device": "mobile", "category": "apparel", "region": "ZJ",
            "merchant_id": "m00001", "buyer_id": "u0000001", "item_id": "i0000101",
            "quantity": 1, "payment": "alipay",
        }
        fields.update(overrides)
        return Order(**fields)

    return make


@pytest.fixture(scope="session")
def million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A night of over a million events with duplicates, malformed and late arrivals."""
    from rehearsal.incidents import parse_incident
    from rehearsal.run import simulate_to_file
    from rehearsal.simulate import NightPlan

    path = tmp_path_factory.mktemp("million") / "night.jsonl"
    incidents = tuple(parse_incident(s) for s in (
        "duplicate_resend@1m/60s", "malformed_burst@2m/30s", "late_arrivals@3m/60s"))
    simulate_to_file(NightPlan(seed=20, peak_ops=4000, incidents=incidents), path, "test")
    return path
