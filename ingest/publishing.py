"""Telling everyone what is committed: the history manifest and the summary for readers (at most
every second while orders flow, at once when asked), the top merchants, and the live snapshot
for the screens (its own thread, with the worker's heartbeat). Owns when each is due."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import redis

from common.settings import Settings
from ingest.committing import Committer
from ingest.history import publish_manifest, publish_summary
from ingest.live_forecast import LiveForecast
from ingest.live_state import LiveState
from ingest.rate import RateMeter, night_capacity
from ingest.read import id_key
from ingest.snapshot import SnapshotPublisher, now_ms
from ingest.store import Store
from ingest.summary import capacity_of, live_summary, previous_capacity

MERCHANTS_EVERY_S = 5.0
PUBLISH_FILES_EVERY_S = 1.0


class Publisher:
    def __init__(self, client: redis.Redis, settings: Settings, state: LiveState,
                 committer: Committer, store: Store, judges: bool) -> None:
        """`judges`: the whole night is here (one partition); a partition of several publishes
        its files after every commit (the combiner follows them) and no forecast."""
        self.client, self.stream, self.data_dir = client, settings.orders_stream, settings.data_dir
        self.state, self.committer, self.store, self.judges = state, committer, store, judges
        # The position the live state holds (set under the snapshots' lock with each commit's
        # windows): the committer's moves first, and a heartbeat between the two would name a
        # commit beside the totals of the one before.
        self.shown_position = committer.position
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        # The night's best capacity, across restarts: a run that starts at a trickle cannot tell.
        kept = previous_capacity(self.data_dir)
        self.rate = RateMeter(best_eps=kept.eps, best_basis=kept.basis)
        self.snapshots = SnapshotPublisher(
            client, (settings.snapshot_key, settings.night_key, settings.snapshot_channel),
            state, self.heartbeat, settings.snapshot_interval_ms / 1000,
            LiveForecast(settings) if judges else None, lambda: self.shown_position)
        self.gap_open: Callable[[], bool] = lambda: False  # the watch's, once there is one
        self._at: dict[str, float] = {}
        self._files_behind = False  # a commit the files do not tell of yet
        # The stream's newest id and when (this worker's clock) it was first seen: how long the
        # stream has been silent, told apart from a worker that is not beating.
        self._newest: tuple[str | None, int] = (None, now_ms())
        self._merchants_behind = False

    def after_commit(self) -> None:
        self._merchants_behind = True
        if self.due("merchants", MERCHANTS_EVERY_S):
            self.refresh_merchants()
        self.files()

    def when_quiet(self) -> None:
        """Nothing arrived: what the files and the merchants do not tell yet, told now."""
        if self._files_behind:  # the last commit came within a second of the one before
            self.files(now=True)
        if self._merchants_behind and self.due("merchants", MERCHANTS_EVERY_S):
            self.refresh_merchants()
            self.snapshots.publish(night_too=True)

    def refresh_merchants(self) -> None:
        self._merchants_behind = False
        top = self.store.top_merchants(10)
        with self.snapshots.lock:
            self.state.top_merchants = top

    def counted(self, events: int, busy_s: float) -> None:
        """A commit's events and working time, for the rate; a capacity it moves is in the
        summary with the next files (at once when quiet), as on the screens."""
        before = night_capacity(self.rate.figures())
        self.rate.record(events, busy_s)
        if night_capacity(self.rate.figures()) != before:
            self._files_behind = True

    def files(self, now: bool = False) -> None:
        """The manifest and the summary for readers: at most every PUBLISH_FILES_EVERY_S while
        orders flow (the screens read the snapshot), at once when asked (idle, compaction); a
        partition of several after every commit (the combiner follows them)."""
        due = now or not self.judges or self.due("files", PUBLISH_FILES_EVERY_S)
        self._files_behind = not due
        if due:
            committer = self.committer
            publish_manifest(self.data_dir, committer.manifest(self.state.rejected,
                                                               self.state.duplicates))
            publish_summary(self.data_dir, {**live_summary(self.state, committer.position),
                                            **capacity_of(self.rate.figures()),
                                            "stream_gaps": [g.as_json() for g in committer.gaps]})

    def due(self, what: str, every_s: float) -> bool:
        now = time.monotonic()
        if now - self._at.get(what, 0.0) < every_s:
            return False
        self._at[what] = now
        return True

    def all_due(self) -> None:
        """Whatever is next asked is due at once (the worker is finishing)."""
        self._at.clear()

    def heartbeat(self) -> dict[str, object]:
        """The worker's side of the live snapshot: where it stands, its lag, gaps and rate."""
        last_id = self.client.xinfo_stream(self.stream)["last-generated-id"] \
            if self.client.exists(self.stream) else None
        last = last_id.decode() if isinstance(last_id, bytes) else last_id
        position = self.shown_position
        committed_ms = id_key(position)[0] if position else None
        lag = max(id_key(last)[0] - committed_ms, 0) if last and committed_ms else None
        lost = [gap.lost for gap in self.committer.gaps]
        now = now_ms()
        if last != self._newest[0]:
            self._newest = (last, now)
        return {"heartbeat_ms": now, "worker": self.name, "position": position,
                "stream_last_id": last, "stream_quiet_ms": now - self._newest[1],
                "lag_ms": lag, "stream_gaps": len(lost),
                "stream_gap_open": self.gap_open(),
                "stream_lost": None if None in lost else sum(n or 0 for n in lost),
                **self.rate.figures()}
