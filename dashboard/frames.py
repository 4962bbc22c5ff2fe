"""What the push sends a screen (dashboard/hub.py): the snapshot as published, or the change since
the one before; the night's charts, or the points added to their traces. The browser applies them
(assets/live.js, the same rules: `apply_live_delta` and `apply_figure_delta` are their reference,
which the tests hold both to).

A live delta follows one snapshot (the hub numbers them: `n`, `base`): a screen that holds
another asks for the whole snapshot again (it reconnects). The per-second series moves on by
whole seconds: the delta says how far (`shift`), from which point its values changed (`from`)
and the values from there.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SERIES = "series"
SERIES_ARRAYS = ("orders", "gmv_cents")
# A figure's arrays that a delta may extend; anything else changed redraws the chart.
TRACE_ARRAYS = ("x", "y", "customdata", "text", "hovertext")


def sse(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One server-sent event. `data` is one line of JSON (json.dumps never writes a raw line
    break)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + data + b"\n\n"


def night_version(payload: bytes) -> str:
    """The night's charts as drawn (their /api/night-figures payload), named by their bytes."""
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


def encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def live_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The change from snapshot `old` to `new`: the fields set and removed, the series moved
    on (or set whole, where it cannot be)."""
    changed = {k: v for k, v in new.items() if k != SERIES and old.get(k, _ABSENT) != v}
    removed = [k for k in old if k not in new]
    delta: dict[str, Any] = {"set": changed}
    if removed:
        delta["unset"] = removed
    if SERIES in new and old.get(SERIES) != new[SERIES]:
        moved = _series_delta(old.get(SERIES), new.get(SERIES))
        if moved is None:
            changed[SERIES] = new.get(SERIES)
        else:
            delta[SERIES] = moved
    return delta


_ABSENT = object()


def _series_delta(old: Any, new: Any) -> dict[str, Any] | None:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return None
    start0, start1 = old.get("start_ms"), new.get("start_ms")
    if not (isinstance(start0, int) and isinstance(start1, int)) or (start1 - start0) % 1000:
        return None
    shift = (start1 - start0) // 1000
    arrays: list[tuple[list[Any], list[Any]]] = []
    for name in SERIES_ARRAYS:
        before, after = old.get(name), new.get(name)
        if not (isinstance(before, list) and isinstance(after, list)):
            return None
        arrays.append((before, after))
    if shift < 0:
        return None
    if set(new) - {"start", "start_ms", *SERIES_ARRAYS}:
        return None  # a field this delta does not carry
    kept = [a[shift:] for a, _ in arrays]
    common = min(min(len(k), len(b)) for k, (_, b) in zip(kept, arrays, strict=True))
    first = next((i for i in range(common)
                  if any(k[i] != b[i] for k, (_, b) in zip(kept, arrays, strict=True))), common)
    return {"start": new.get("start"), "start_ms": start1, "shift": shift, "from": first,
            **{name: b[first:] for name, (_, b) in zip(SERIES_ARRAYS, arrays, strict=True)}}


def apply_live_delta(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """`old` moved on by `delta` (what live.js does)."""
    new = {k: v for k, v in old.items() if k not in delta.get("unset", ())}
    new.update(delta["set"])
    moved = delta.get(SERIES)
    if moved is not None:
        series = old[SERIES]
        keep = moved["from"]
        new[SERIES] = {"start": moved["start"], "start_ms": moved["start_ms"],
                       **{name: series[name][moved["shift"]:][:keep] + moved[name]
                          for name in SERIES_ARRAYS}}
    return new


def figure_delta(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """The change from figure `old` to `new` as points to keep and points to add per trace:
    {"traces": [i, ...], "keep": [n, ...], "add": {array: [[values], ...]}}; {} when nothing
    changed; None when the chart must be drawn again (its layout, or anything but the trace
    arrays, changed)."""
    if old is None or old.get("layout") != new.get("layout"):
        return None
    before, after = old.get("data") or [], new.get("data") or []
    if len(before) != len(after):
        return None
    traces, keeps, tails = [], [], []
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        if {k: v for k, v in a.items() if k not in TRACE_ARRAYS} != \
                {k: v for k, v in b.items() if k not in TRACE_ARRAYS}:
            return None
        names = sorted(set(a) & set(TRACE_ARRAYS) | set(b) & set(TRACE_ARRAYS))
        if not all(isinstance(a.get(n), list) and isinstance(b.get(n), list) for n in names):
            return None
        if not names or all(a[n] == b[n] for n in names):
            continue
        lengths = {len(b[n]) for n in names}
        if len(lengths) != 1:
            return None
        keep = min(min(len(a[n]), len(b[n])) for n in names)
        keep = next((i for i in range(keep) if any(a[n][i] != b[n][i] for n in names)), keep)
        traces.append(index)
        keeps.append(keep)
        tails.append({n: b[n][keep:] for n in names})
    if not traces:
        return {}
    names = sorted({n for tail in tails for n in tail})
    if any(set(tail) != set(names) for tail in tails):
        return None  # extendTraces takes the same arrays for every trace it extends
    return {"traces": traces, "keep": keeps, "add": {n: [tail[n] for tail in tails] for n in names}}


def apply_figure_delta(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """`old` with `delta` applied (what live.js does to the chart on the page)."""
    data = [dict(trace) for trace in old.get("data") or []]
    for position, index in enumerate(delta.get("traces", ())):
        keep = delta["keep"][position]
        for name, tails in delta["add"].items():
            data[index][name] = data[index][name][:keep] + tails[position]
    return {**old, "data": data}
