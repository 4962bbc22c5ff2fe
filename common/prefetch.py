"""Producing the next item in a background thread while this one is consumed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` ahead: producing the next batch (Arrow and
    numpy release the GIL) overlaps with publishing this one."""
    buffer: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((False, None))
        except BaseException as err:  # handed to the consumer, which re-raises it
            buffer.put((False, err))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            more, item = buffer.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
