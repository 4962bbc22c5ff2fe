"""What a dashboard process reads from Redis for the screens is read once for all of them."""

from __future__ import annotations

import threading
import time

import redis

from dashboard.data.live import Reused


def test_values_are_reused_while_fresh_and_read_again_after() -> None:
    reads: list[tuple[str, ...]] = []

    def read(keys: tuple[str, ...]) -> list[bytes | None]:
        reads.append(keys)
        return [f"{k}-{len(reads)}".encode() for k in keys]

    reused = Reused()
    assert reused.get(("a",), 0.2, read) == [b"a-1"]
    assert reused.get(("a",), 0.2, read) == [b"a-1"]
    assert reused.get(("a", "b"), 0.2, read) == [b"a-2", b"b-2"]  # other keys, own entry
    time.sleep(0.25)  # the condition itself: older than its max age
    assert reused.get(("a",), 0.2, read) == [b"a-3"]
    assert len(reads) == 3


def test_many_threads_asking_at_once_make_one_read() -> None:
    reads: list[int] = []
    started = threading.Event()

    def slow_read(keys: tuple[str, ...]) -> list[bytes | None]:
        reads.append(1)
        started.wait(5)
        return [b"x"]

    reused = Reused()
    answers: list[list[bytes | None]] = []
    threads = [threading.Thread(target=lambda: answers.append(reused.get(("k",), 10, slow_read)))
               for _ in range(16)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join(10)
    assert reads == [1] and answers == [[b"x"]] * 16


def test_redis_away_is_not_remembered() -> None:
    calls: list[int] = []

    def failing(keys: tuple[str, ...]) -> list[bytes | None]:
        calls.append(1)
        raise redis.ConnectionError("away")

    reused = Reused()
    assert reused.get(("k",), 10, failing) == [None]
    assert reused.get(("k",), 10, failing) == [None]
    assert len(calls) == 2
