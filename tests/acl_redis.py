"""A real redis-server whose users are docs/redis-acl.conf's (password `pw-<user>`), plus an admin
for a test's own looks: the one way the tests load the documented ACL users."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import redis

from common.redis_functions import load_functions
from common.redis_server import EmbeddedRedis, connect, free_loopback_port

ACL_RULES = Path(__file__).parents[1] / "docs" / "redis-acl.conf"


class AclRedis(NamedTuple):
    port: int
    admin: redis.Redis

    def url(self, user: str, password: str | None = None) -> str:
        return f"redis://{user}:{password or 'pw-' + user}@127.0.0.1:{self.port}/0"

    def client(self, user: str) -> redis.Redis:
        return connect(self.url(user))


@contextlib.contextmanager
def acl_redis_server(home: Path) -> Iterator[AclRedis]:
    home.mkdir(parents=True, exist_ok=True)
    rules = home / "users.acl"
    rules.write_text(ACL_RULES.read_text().replace("CHANGE-ME-", "pw-")
                     + "user admin on >pw-admin ~* &* +@all\n")
    port = free_loopback_port()
    with EmbeddedRedis(home / "redis", port=port, extra_args=("--aclfile", str(rules)),
                       credentials="admin:pw-admin") as server:
        acl = AclRedis(port, connect(server.url))
        load_functions(acl.client("ops"))  # what `gmv redis-setup` does, as docs/operating.md says
        yield acl
