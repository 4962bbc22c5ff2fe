"""Simulated pushed screens for the benches: each holds one `/api/stream` open (as the page does)
and counts what it reads; a few (`probe`) read it chunk by chunk and rebuild the snapshots, to
time each order from its XADD to the frame that carries it. A stream that ends, or answers anything but
200, is an error (and is opened again)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from dashboard.frames import apply_live_delta


@dataclass
class Pushed:
    frames: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, bytes) per read
    errors: int = 0
    arrivals: list[tuple[int, str]] = field(default_factory=list)  # (epoch ms, position), probes


def stream_request(port: int, cookie: str, lang: str = "zh") -> bytes:
    return (b"GET /api/stream?lang=%s&night= HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n"
            % (lang.encode(), port, cookie.encode()))


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    """The next chunk of a chunked body (b'' at its end)."""
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    data = await reader.readexactly(size + 2)
    return data[:-2]


async def pushed_screen(port: int, request: bytes, until: float, out: Pushed, probe: bool) -> None:
    while time.monotonic() < until:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                out.errors += 1
                await asyncio.sleep(1)
                continue
            buffer, doc, n = b"", None, None
            while time.monotonic() < until:
                remaining = until - time.monotonic()
                if not probe:
                    # As cheap as a screen's network card: the bytes as they come (the load
                    # generator shares the two cores with what it measures).
                    data = await asyncio.wait_for(reader.read(65536), timeout=max(remaining, 0.01))
                    if not data or data.endswith(b"\r\n0\r\n\r\n"):
                        raise ConnectionError("the stream ended")
                    out.frames.append((time.monotonic(), len(data)))
                    continue
                chunk = await asyncio.wait_for(_chunks(reader), timeout=max(remaining, 0.01))
                if not chunk:
                    raise ConnectionError("the stream ended")
                out.frames.append((time.monotonic(), len(chunk)))
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                at = int(time.time() * 1000)
                for event in events:
                    doc, n = _rebuilt(event, doc, n)
                    if doc is not None and event.startswith((b"event: live", b"event: delta")) \
                            and isinstance(doc.get("position"), str):
                        out.arrivals.append((at, doc["position"]))
        except TimeoutError:
            return
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                ConnectionError):
            if time.monotonic() < until:
                out.errors += 1
        finally:
            if writer is not None:
                writer.close()


def _rebuilt(event: bytes, doc: dict | None, n: int | None) -> tuple[dict | None, int | None]:
    name, _, data = event.partition(b"\ndata: ")
    if name == b"event: live":
        frame = json.loads(data)
        return frame["live"], frame["n"]
    if name == b"event: delta":
        frame = json.loads(data)
        if doc is None or frame["base"] != n:
            raise ValueError("a delta that follows another snapshot")
        return apply_live_delta(doc, frame["delta"]), frame["n"]
    return doc, n
