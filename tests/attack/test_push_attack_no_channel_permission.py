"""Attack (an operator's slip): the war room upgraded to the push, its Redis ACL not (the
dashboard's user as docs/redis-acl.conf had it before: no channel, no SUBSCRIBE). Held: the
hub's listener reads the key between its refused subscriptions (every 2 s at most), so the
beating streams still carry the snapshot /api/live serves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.frames import encode
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, get_json, running_stack
from tests.e2e.sse import EventReader

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-acl"), worker=False) as running:
        yield running


def snapshot(seq: int) -> dict[str, Any]:
    return {"version": 2, "seq": seq, "gmv_cents": 1_000 * seq, "orders": 3 * seq,
            "heartbeat_ms": int(time.time() * 1000), "by_device": {"pc": {"orders": seq}}}


def test_a_dashboard_user_that_may_not_subscribe_still_gets_the_snapshots(
        quiet_stack: Stack) -> None:
    stack = quiet_stack
    # The serving processes' user (here Redis's default user) may read the keys as before, but
    # no channel: the ACL line of the release before the push.
    stack.client.execute_command("ACL", "SETUSER", "default", "resetchannels")
    try:
        stack.client.set(stack.settings.snapshot_key, encode(snapshot(1)))
        assert get_json(stack.base_url + "/api/live")["seq"] == 1, "polling serves it"
        readers = [EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
                   for _ in range(4)]
        try:
            assert all(r.status == 200 for r in readers)
            wait_for(lambda: all(r.named("beat") for r in readers), 10,
                     "the streams did not beat")  # what keeps the page from polling
            wait_for(lambda: all(r.snapshots() and r.snapshots()[-1]["seq"] == 1
                                 for r in readers), 15,
                     "the streams beat but never carried the snapshot /api/live serves")
        finally:
            for reader in readers:
                reader.close()
    finally:
        stack.client.execute_command("ACL", "SETUSER", "default", "allchannels")
