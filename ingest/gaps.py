"""Finding stream gaps as the worker reads (ingest/continuity.py says what a gap is): with each
batch, from what came back beside it (the stream's token and XINFO STREAM), whether entries
were lost unread before it, or the stream is another one. Owns what it needs between batches:
how many entries the stream had lost when it last looked, and the token it left beside it."""

from __future__ import annotations

import os
from dataclasses import replace

import redis

from ingest.committing import Committer
from ingest.continuity import (
    MISSING,
    REMOVED,
    RESTARTED,
    StreamGap,
    StreamInfo,
    count_lost,
    find_gap,
    text_of,
)
from ingest.read import StreamReader, epoch_key
from ingest.snapshot import now_ms


class GapFinder:
    def __init__(self, client: redis.Redis, stream: str, committer: Committer) -> None:
        self.client, self.stream, self.committer = client, stream, committer
        self._removed_seen: int | None = None  # entries the stream had lost, as last looked

    def before(self, reader: StreamReader, read: int) -> StreamGap | None:
        """Entries lost unread just before the batch `reader` has just yielded, or another
        stream under the name; `read`: the entries read since the last commit."""
        if (another := self._another_stream(reader)) is not None:
            return another
        info = StreamInfo.from_reply(reader.info) if reader.info is not None else MISSING
        committer = self.committer
        accounted = committer.accounted_with(read)
        gap = find_gap(self.stream, info, reader.read_after, accounted,
                       committer.reported_through(), now_ms(),
                       committer.behind_reported()) or self._removed_by_others(
                           info, reader.read_after)
        if gap is None or gap.cause != REMOVED:
            return gap
        lost = count_lost(self.client, gap, info, accounted)
        if lost is not None and lost <= 0:
            return None  # only entries already read were removed
        return replace(gap, lost=lost)

    def trimmed(self, count: int | None) -> None:
        """The worker's own trim removed `count` entries (below its committed position)."""
        if self._removed_seen is not None:
            self._removed_seen += int(count or 0)

    def _removed_by_others(self, info: StreamInfo, after: str) -> StreamGap | None:
        """Redis 7 tells how many entries were ever removed (added less still there): more
        than the worker trimmed since it last looked means someone else removed some (an XDEL
        below one already said leaves no other mark), and then they are counted."""
        if info.entries_added is None:
            return None
        removed, seen = info.entries_added - info.length, self._removed_seen
        self._removed_seen = removed if seen is None else max(seen, removed)
        if removed <= 0 or seen is not None and removed <= seen:
            return None
        return StreamGap(self.stream, after, None, None, None, False, now_ms())

    def _another_stream(self, reader: StreamReader) -> StreamGap | None:
        """The token beside the stream: taken (or left) at a first look; gone or changed since,
        the stream is another one, whatever its ids (Redis came back empty and the producer
        wrote on before the worker looked)."""
        epoch = self.committer.epoch
        if text_of(reader.marker) == epoch and epoch is not None:
            return None
        if epoch is None or self.committer.position is None:
            self.mark_epoch(first_look=True)
            return None
        now = self.client.get(epoch_key(self.stream))  # the read's may predate our own mark
        if text_of(now) == epoch:
            return None
        return StreamGap(self.stream, reader.read_after, None, None, None, True, now_ms(),
                         RESTARTED, 0)

    def mark_epoch(self, first_look: bool) -> None:
        """A first look takes the token already beside the stream, or leaves one; a stream
        found to be another gets a new one."""
        key, token = epoch_key(self.stream), os.urandom(8).hex()
        if first_look and not self.client.set(key, token, nx=True):
            token = text_of(self.client.get(key)) or token
        elif not first_look:
            self.client.set(key, token)
        self.committer.keep_epoch(token)
