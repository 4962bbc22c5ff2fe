"""Stream continuity: entries removed from the order stream before the worker read them (an
outside XTRIM or XDEL, a Redis that came back empty or from an older AOF) found from XINFO
STREAM and counted where the server can tell, so that no loss passes silently.

Redis 7 tells how many entries were ever added (`entries-added`) and the newest one deleted
(`max-deleted-entry-id`): entries deleted after the last one read are lost, and their number is
what was added less what was read (or found lost before) less what is still there. An older
server only shows a first entry beyond the position (a trim cut into the unread part): a gap
whose size it cannot tell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from ingest.contract import beijing_iso
from ingest.read import id_key

COUNT_PRESENT_LIMIT = 100_000  # entries read but not yet trimmed: a few seconds' worth


@dataclass(frozen=True)
class StreamInfo:
    """What XINFO STREAM says of the stream; `exists` False when there is no such key."""

    exists: bool
    length: int = 0
    last_id: str | None = None
    first_id: str | None = None
    max_deleted_id: str | None = None  # Redis >= 7
    entries_added: int | None = None  # Redis >= 7

    @classmethod
    def from_reply(cls, reply: list[Any] | dict[Any, Any]) -> StreamInfo:
        """A raw RESP2 reply (a flat list of names and values) or redis-py's parsed dict."""
        fields = dict(zip(reply[::2], reply[1::2], strict=False)) if isinstance(reply, list) \
            else reply

        def get(name: str) -> Any:
            return fields.get(name.encode(), fields.get(name))

        first = get("first-entry")
        first_id = first[0] if isinstance(first, (list, tuple)) and first else None
        added = get("entries-added")
        return cls(True, int(get("length") or 0), text_of(get("last-generated-id")),
                   text_of(first_id), text_of(get("max-deleted-entry-id")),
                   int(added) if added is not None else None)


MISSING = StreamInfo(False)


def text_of(value: Any) -> str | None:
    """A reply's bytes (or None) as text."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


REMOVED = "removed"  # entries removed from the stream unread (XTRIM, XDEL)
RESTARTED = "restarted"  # another stream under the name (Redis back empty, the key deleted)
BEHIND = "behind"  # the stream's newest id below the position (Redis back on older data)


@dataclass(frozen=True)
class StreamGap:
    """Entries of `stream` after `after_id` lost before they were read. `lost`: how many (None:
    the server cannot tell); `reset`: the stream is another one now, so reading starts again
    from its beginning; `cause`: one of REMOVED, RESTARTED, BEHIND; `recount`: the entries the
    stream has had, read or lost, as of the gap (the worker's count starts again from there)."""

    stream: str
    after_id: str
    before_id: str | None  # the first entry still there after the gap (None: none known)
    through_id: str | None  # the newest entry known removed (or the stream's newest, behind)
    lost: int | None
    reset: bool
    found_ms: int
    cause: str = REMOVED
    recount: int | None = None

    def message(self) -> str:
        how_many = f"{self.lost:,} entries" if self.lost is not None else "entries (how many: " \
            "the server cannot tell)"
        if self.cause == RESTARTED:
            return (f"stream {self.stream} is another stream than the one read up to "
                    f"{self.after_id} (Redis restarted empty, or the key was deleted?): entries "
                    "not read before, if any, are lost; counting goes on from its start")
        if self.cause == BEHIND:
            return (f"stream {self.stream} went back to {self.through_id}, below the committed "
                    f"position {self.after_id} (Redis restarted on older data?): entries after "
                    "the position not read before, if any, are lost; counting goes on from it")
        upto = f"and {self.before_id}" if self.before_id else \
            f"up to {self.through_id}" if self.through_id else "and the stream's end"
        return (f"{how_many} removed from {self.stream} unread, between {self.after_id} {upto} "
                "(an outside XTRIM/XDEL?): their orders are not counted")

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> StreamGap:
        """A gap as a summary told it (as_json)."""
        return cls(saved["stream"], saved["after_id"], saved["before_id"], saved["through_id"],
                   saved["lost"], saved["reset"], saved["found_ms"],
                   saved.get("cause", REMOVED), saved.get("recount"))

    def as_json(self) -> dict[str, Any]:
        return {"stream": self.stream, "after_id": self.after_id, "before_id": self.before_id,
                "through_id": self.through_id, "lost": self.lost, "reset": self.reset,
                "cause": self.cause,
                "found": beijing_iso(self.found_ms), "found_ms": self.found_ms,
                "message": self.message()}


def find_gap(stream: str, info: StreamInfo, after: str | None, accounted: int,
             reported_through: str | None, now_ms: int,
             behind_reported: bool = False) -> StreamGap | None:
    """A gap after `after` (the last entry read; None: none yet) that `info`, taken just before
    the read after it, shows. `accounted`: the entries of this stream read up to `after` or found
    lost before; `reported_through`: the newest removed entry already reported (not twice);
    `behind_reported`: the stream's going back below `after` is said already."""
    read_upto = id_key(after) if after else (0, 0)
    if not info.exists or info.last_id is None:
        if read_upto == (0, 0):
            return None
        return StreamGap(stream, after or "0-0", None, None, None, True, now_ms, RESTARTED, 0)
    if id_key(info.last_id) < read_upto:
        if behind_reported:
            return None
        return StreamGap(stream, after or "0-0", None, info.last_id, None, False, now_ms, BEHIND,
                         info.entries_added)
    known = id_key(reported_through) if reported_through else (0, 0)
    deleted = id_key(info.max_deleted_id) if info.max_deleted_id else (0, 0)
    if deleted > read_upto and deleted > known:  # an XDEL (Redis 7 marks those, not trims)
        return StreamGap(stream, after or "0-0", None, info.max_deleted_id, None, False, now_ms)
    # A trim removes from the head: only a first entry beyond the last one read (or none at
    # all) can mean unread entries went. Redis 7 counts them (none: nothing to say); an older
    # server cannot, nor tell a never-read stream's trim, and says a cut once.
    first = id_key(info.first_id) if info.first_id else None
    if info.entries_added is not None:
        cut = first is None or first > read_upto
    else:
        cut = first is not None and read_upto != (0, 0) and first > read_upto and first > known
    if cut:
        return StreamGap(stream, after or "0-0", info.first_id, None, None, False, now_ms)
    return None


def count_lost(client: redis.Redis, gap: StreamGap, info: StreamInfo, accounted: int) -> int | None:
    """How many entries the gap removed: added, less accounted for, less still there after it
    (all of the stream when its first entry lies beyond the gap's start; else counted up to the
    start, which the worker's own trimming keeps small). None where the server cannot tell; 0 or
    less: nothing unread was removed."""
    if info.entries_added is None or gap.cause != REMOVED:
        return None
    first = info.first_id
    if first is None or id_key(first) > id_key(gap.after_id):
        present_after = info.length
    else:
        upto = client.xrange(gap.stream, "-", gap.after_id, count=COUNT_PRESENT_LIMIT) or []
        if len(upto) >= COUNT_PRESENT_LIMIT:
            return None
        present_after = info.length - len(upto)
    return info.entries_added - accounted - present_after
