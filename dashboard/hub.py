"""The push of one serving process: each snapshot the worker publishes is heard once (its Redis
channel, read by one thread), turned into frames once (the whole snapshot, and the change since
the one before) and handed to every open stream of the process; every NIGHT_EVERY_S the night's
charts likewise (the points added to their traces, or the charts drawn again). A stream that
fell behind (a slow screen) is sent the newest, whole; nothing queues up behind it.

When no snapshot comes for a second (the worker stopped, or the channel broke) the process reads
the key itself, and each stream is told how old what it shows is (a `beat`): the page's
staleness banner keeps counting either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from common.logs import log_event
from dashboard.data.live import DataSource, snapshot_age_ms
from dashboard.frames import encode, figure_delta, live_delta, night_version, sse

log = logging.getLogger("gmv.push")
READ_AFTER_S = 1.0  # no publication heard for this long: read the key
# A publication that only beats (the worker's heartbeat between two commits: its position the
# same) is sent on at most this often: half the frames, and none of them news, otherwise.
NEWS_EVERY_S = 1.0
BEAT_EVERY_S = 1.0  # a stream without a frame for this long is sent its age
FRESH_S = 0.25  # a whole snapshot sent later than this after its frame was made: made again
STALLED_S = 30.0  # a stream whose screen has not taken a frame for this long is ended
NIGHT_EVERY_S = 5.0  # the night's charts, as often as a polling page fetched them
SAY_EVERY_S = 60.0  # how many streams are open, in the log
RESUBSCRIBE_S = (0.2, 2.0)  # Redis away: listen again after this, doubling up to the second
CHARTS = ("night", "trend", "categories", "regions")
AROUND_CHARTS = ("milestones", "outlook", "live_marks")


@dataclass(eq=False)
class Stream:
    """One screen's open stream."""

    lang: str
    night_version: str  # the night's charts the screen shows
    live_n: int | None = None  # the snapshot it holds (the hub's number)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: float = field(default_factory=time.monotonic)
    ended: bool = False
    night_sent: bool = False
    task: asyncio.Task[Any] | None = None  # what serves it (cancelled if it stalls in a send)
    sending_since: float | None = None  # a send not yet taken by the screen's connection


@dataclass
class Night:
    version: str
    parts: dict[str, Any]  # the night-figures payload, parsed
    full: bytes  # the frame that draws every chart
    delta: bytes | None  # the frame from the version before, where there was one
    base: str | None
    # For a screen drawn with this version: the orders/s chart's alert marks alone, which the page
    # lays out for its chart's width (the figure it was served has them for 1080p).
    marks: bytes


class Hub:
    """Per process; its asyncio half runs on the serving loop, its listener on a thread."""

    def __init__(self, source: DataSource, night_payload: Callable[[str], bytes],
                 continued: Callable[[int], str | None]) -> None:
        self.source, self.night_payload, self.continued = source, night_payload, continued
        self.streams: set[Stream] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.raw: bytes | None = None  # the newest snapshot heard
        self.heartbeat_ms: int | None = None  # its heartbeat
        self.sent_doc: dict[str, Any] | None = None  # the newest sent on: publication `n`
        self.change: dict[str, Any] | None = None  # from the one before it
        self.waiting: tuple[bytes, dict[str, Any]] | None = None  # a beat held back
        self.sent_raw = b""
        self.sent_at = 0.0  # when it was sent on (monotonic)
        self.framed_at = 0.0  # when its whole frame was made
        self.live_full = self.live_delta = self.beat = b""
        self.publications = 0  # the number of the newest sent on (`n`; the worker's `seq`
        # starts again when it does)
        self.nights: dict[str, Night] = {}
        self._stop = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._night_wanted: asyncio.Event | None = None  # a stream opened in a new language

    # -- on the serving loop ---------------------------------------------------------------

    def start(self) -> None:
        """On the serving loop, at its first stream."""
        if self.loop is not None:
            return
        self.loop = asyncio.get_running_loop()
        self._night_wanted = asyncio.Event()
        threading.Thread(target=self._listen, name="push-listener", daemon=True).start()
        self._tasks = [self.loop.create_task(self._beats()), self.loop.create_task(self._nights())]

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """The server is stopping: every stream ends now (a screen reconnects to another)."""
        self._stop.set()
        for stream in list(self.streams):
            stream.ended = True
            stream.wake.set()
            if stream.sending_since is not None and stream.task is not None:
                stream.task.cancel()  # stuck in a send the screen does not take
        for task in self._tasks:
            task.cancel()

    def published(self, raw: bytes) -> None:
        """A snapshot heard (or read): its frames, once, for every stream."""
        try:
            doc = json.loads(raw)
        except ValueError:
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("gmv_cents"), int):
            return
        if raw == self.raw:
            return  # read again, unchanged
        # Taken in the order heard, whatever its heartbeat says (a worker's clock set back an
        # hour is still the worker).
        beat = doc.get("heartbeat_ms")
        self.raw, self.heartbeat_ms = raw, beat if isinstance(beat, int) else None
        now = time.monotonic()
        if self._only_beats(doc) and now - self.sent_at < NEWS_EVERY_S:
            # A beat between two commits: held, and sent on once NEWS_EVERY_S has passed unless
            # a newer one comes first (the last one before the worker stops is still shown).
            self.waiting = (raw, doc)
            return
        self._send_on(raw, doc, now)

    def _only_beats(self, doc: dict[str, Any]) -> bool:
        """The worker's heartbeat between two commits: the position and the totals the same."""
        sent = self.sent_doc
        return sent is not None and doc.get("position") is not None and all(
            doc.get(k) == sent.get(k) for k in ("position", "gmv_cents", "orders"))

    def _send_on(self, raw: bytes, doc: dict[str, Any], now: float) -> None:
        before, n = self.sent_doc, self.publications + 1
        self.waiting = None
        self.sent_doc, self.sent_raw, self.publications, self.sent_at = doc, raw, n, now
        self.change = None if before is None else live_delta(before, doc)
        self._frame()
        for stream in self.streams:
            stream.wake.set()

    def _send_waiting(self) -> None:
        if self.waiting is not None and time.monotonic() - self.sent_at >= NEWS_EVERY_S:
            self._send_on(*self.waiting, time.monotonic())

    def _frame(self) -> None:
        """The newest snapshot's frames, with its age now: whole, and the change from the one
        before where that is smaller."""
        around = self._around(self.sent_raw)
        self.live_full = sse("live", encode({**around, "live": self.sent_doc}))
        self.live_delta = b"" if self.change is None else sse("delta", encode(
            {**around, "base": self.publications - 1, "delta": self.change}))
        if len(self.live_delta) >= len(self.live_full):
            self.live_delta = b""  # the change is no smaller than the whole (a new night)

    def _around(self, raw: bytes) -> dict[str, Any]:
        """What a frame says beside the snapshot: its number, its age now, a continued night."""
        now_ms = int(time.time() * 1000)
        self.framed_at = time.monotonic()
        return {"n": self.publications, "age_ms": snapshot_age_ms(raw, now_ms),
                "continued": self.continued(now_ms)}

    def opened(self, stream: Stream) -> None:
        self.streams.add(stream)
        if stream.lang not in self.nights and self._night_wanted is not None:
            self._night_wanted.set()

    def live_frame(self, stream: Stream) -> bytes:
        """What `stream` is sent of the newest snapshot: the change, if it holds the one before."""
        if self.sent_doc is None or stream.live_n == self.publications:
            return b""
        if time.monotonic() - self.framed_at > FRESH_S:
            # Sent late (a screen just opened, one that fell behind, one woken after a wait):
            # framed again with its age now, not at publication (a screen opened while the
            # worker is down sees it is old).
            self._frame()
        delta = self.live_delta and stream.live_n == self.publications - 1
        stream.live_n = self.publications
        return self.live_delta if delta else self.live_full

    def night_frame(self, stream: Stream) -> bytes:
        night = self.nights.get(stream.lang)
        if night is None:
            return b""
        first, stream.night_sent = not stream.night_sent, True
        if stream.night_version == night.version:
            return night.marks if first else b""
        frame = night.delta if night.delta is not None and stream.night_version == night.base \
            else night.full
        stream.night_version = night.version
        return frame

    def beat_frame(self, stream: Stream) -> bytes:
        """A stream with nothing sent for BEAT_EVERY_S: how old the newest snapshot is (and a
        continued night's notice), made once a tick for every stream."""
        return self.beat if time.monotonic() - stream.sent_at >= BEAT_EVERY_S else b""

    def _beat(self) -> bytes:
        now_ms = int(time.time() * 1000)
        age = max(now_ms - self.heartbeat_ms, 0) if self.heartbeat_ms is not None else None
        return sse("beat", encode({"age_ms": age, "continued": self.continued(now_ms)}))

    async def _beats(self) -> None:
        said_at = time.monotonic()
        while True:
            await asyncio.sleep(BEAT_EVERY_S / 2)
            now = time.monotonic()
            if now - said_at >= SAY_EVERY_S:
                log_event(log, "push_streams", streams=len(self.streams),
                          publications=self.publications)
                said_at = now
            self._send_waiting()
            self.beat = self._beat()
            for stream in self.streams:
                if stream.sending_since is not None and now - stream.sending_since > STALLED_S \
                        and stream.task is not None:
                    log_event(log, "push_stream_stalled", waited_s=round(now - stream.sending_since))
                    stream.ended = True
                    stream.task.cancel()
                elif now - stream.sent_at >= BEAT_EVERY_S:
                    stream.wake.set()

    async def _nights(self) -> None:
        """The night's charts of each language a stream is open in, every NIGHT_EVERY_S."""
        while True:
            langs = {s.lang for s in self.streams}
            for lang in set(self.nights) - langs:
                del self.nights[lang]  # kept, it would be drawn stale for the next screen
            for lang in sorted(langs):
                try:
                    payload = await asyncio.to_thread(self.night_payload, lang)
                    changed = self._night_changed(lang, payload)
                except Exception as err:  # the next turn draws them again
                    # Whatever went wrong drawing this turn's charts (Redis away, a night
                    # document the figures cannot draw), the push goes on: polling would have
                    # answered that one request with an error, not stopped for the night.
                    log_event(log, "push_night_failed", lang=lang,
                              error=f"{type(err).__name__}: {err}"[:200])
                    continue
                if changed:
                    for stream in self.streams:
                        if stream.lang == lang:
                            stream.wake.set()
            assert self._night_wanted is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._night_wanted.wait(), NIGHT_EVERY_S)
            self._night_wanted.clear()

    def _night_changed(self, lang: str, payload: bytes) -> bool:
        version = night_version(payload)
        before = self.nights.get(lang)
        if before is not None and before.version == version:
            return False
        parts = json.loads(payload)
        full = sse("night", encode({"version": version, "base": None, **_whole(parts)}))
        delta = None
        if before is not None:
            changes = _night_changes(before.parts, parts)
            delta = sse("night", encode({"version": version, "base": before.version, **changes}))
        marks = sse("night", encode({"version": version, "base": version, "charts": {},
                                     "live_marks": parts.get("live_marks")}))
        self.nights[lang] = Night(version, parts, full, delta,
                                  before.version if before is not None else None, marks)
        return True

    # -- on the listener's thread ----------------------------------------------------------

    def _listen(self) -> None:
        """Hear each publication; read the key when none came for READ_AFTER_S."""
        settings, wait_s = self.source.settings, RESUBSCRIBE_S[0]
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.source.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(settings.snapshot_channel)
                self._read_key()
                log_event(log, "push_listening", channel=settings.snapshot_channel)
                wait_s = RESUBSCRIBE_S[0]
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=READ_AFTER_S)
                    if message is None:
                        self._read_key()
                    elif isinstance(message.get("data"), bytes):
                        self._hand(message["data"])
            except (redis.RedisError, OSError) as err:
                log_event(log, "push_listener_lost", error=str(err)[:200], retry_s=wait_s)
                self._stop.wait(wait_s)
                wait_s = min(wait_s * 2, RESUBSCRIBE_S[1])
            finally:
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        pubsub.close()

    def _read_key(self) -> None:
        raw = self.source.client.get(self.source.settings.snapshot_key)
        if isinstance(raw, bytes):
            self._hand(raw)

    def _hand(self, raw: bytes) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.published, raw)


def _whole(parts: dict[str, Any]) -> dict[str, Any]:
    return {"charts": {name: {"figure": parts.get(name)} for name in CHARTS},
            **{name: parts.get(name) for name in AROUND_CHARTS}}


def _night_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per chart: the points to keep and add, or the figure drawn again; the chips, the outlook
    and the live chart's alert marks where they changed."""
    charts: dict[str, Any] = {}
    for name in CHARTS:
        old, new = before.get(name), after.get(name)
        if not isinstance(new, dict):
            continue
        delta = figure_delta(old if isinstance(old, dict) else None, new)
        if delta is None:
            charts[name] = {"figure": new}
        elif delta:
            lengths = [len((old or {})["data"][i].get(next(iter(delta["add"])), []))
                       for i in delta["traces"]]
            charts[name] = {"delta": {**delta, "had": lengths}}
    return {"charts": charts,
            **{name: after.get(name) for name in AROUND_CHARTS if after.get(name) != before.get(name)}}
