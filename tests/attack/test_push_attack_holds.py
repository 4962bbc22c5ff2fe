"""Attacks on the push that held: hostile bytes on the snapshot channel, Redis dropping every
connection of the serving processes while streams are open, and a local stream once users are
added (the war room is no longer open to this machine's browsers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.accounts import Accounts
from dashboard.frames import encode
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.sse import EventReader, publish_snapshot

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-holds"), worker=False) as running:
        yield running


def snapshot(seq: int) -> dict[str, Any]:
    return {"version": 2, "seq": seq, "gmv_cents": 1_000 * seq, "orders": 3 * seq,
            "heartbeat_ms": int(time.time() * 1000), "by_device": {"pc": {"orders": seq}}}


def publish(stack: Stack, doc: dict[str, Any]) -> None:
    publish_snapshot(stack.client, stack.settings, doc)


def readers(stack: Stack, count: int = 6) -> list[EventReader]:
    opened = [EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
              for _ in range(count)]  # both serving processes listen
    assert all(r.status == 200 for r in opened)
    return opened


def newest(reader: EventReader) -> int | None:
    docs = reader.snapshots()
    return docs[-1]["seq"] if docs else None


def test_hostile_channel_messages_and_a_redis_blip_leave_the_streams_going(
        quiet_stack: Stack) -> None:
    stack = quiet_stack
    opened = readers(stack)
    try:
        publish(stack, snapshot(1))
        wait_for(lambda: all(newest(r) == 1 for r in opened), 20, "no first snapshot")
        channel = stack.settings.snapshot_channel
        framing = snapshot(2) | {"note": "a\n\ndata: {\"x\":1}\r\nevent: refused\n\n\u2028\u0000"}
        for hostile in (b"not json", b"\xff\xfe\x00", b"[1,2,3]", b"null", b"{" * 100_000,
                        encode({"gmv_cents": "12"}), b"x" * 5_000_000):
            stack.client.publish(channel, hostile)
        publish(stack, framing)  # text that would break the framing if written raw
        wait_for(lambda: all(newest(r) == 2 for r in opened), 20, "the hostile bytes broke a stream")
        assert all(r.snapshots()[-1]["note"] == framing["note"] for r in opened)
        assert not any(r.named("refused") or r.ended.is_set() for r in opened)

        # Redis drops every connection but this test's (a restart, a failover, a blip).
        mine = stack.client.client_id()
        for client in stack.client.client_list():
            if int(client["id"]) != mine:
                stack.client.client_kill_filter(_id=client["id"])
        publish(stack, snapshot(3))
        wait_for(lambda: all(newest(r) == 3 for r in opened), 20, "a stream missed the blip")
        # The processes listen again: later publications are heard.
        wait_for(lambda: stack.client.pubsub_numsub(channel)[0][1] >= 1, 20, "nobody listens")
        for seq in range(4, 9):
            publish(stack, snapshot(seq))
        wait_for(lambda: all(newest(r) == 8 for r in opened), 20, "the push never recovered")
    finally:
        for reader in opened:
            reader.close()


def test_a_local_stream_is_refused_once_users_are_added(tmp_path: Path) -> None:
    with running_stack(tmp_path, worker=False) as stack:
        publish(stack, snapshot(1))
        opened = readers(stack, 4)
        try:
            wait_for(lambda: all(newest(r) == 1 for r in opened), 20, "no first snapshot")
            Accounts(stack.settings.data_dir).add_user("alice", "viewer", "a-long-password-1")
            # Checked again within REAUTH_EVERY_S (10 s), plus the accounts' own caching.
            wait_for(lambda: all(r.ended.is_set() for r in opened), 40,
                     "a local stream stayed open after users were added")
            assert all(r.named("refused") for r in opened)
        finally:
            for reader in opened:
                reader.close()
