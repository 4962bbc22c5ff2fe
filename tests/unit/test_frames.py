"""The push's frames (dashboard/frames.py): a delta applied to the snapshot it follows gives the
next one, whatever changed (fields come and go, the series moves on by any number of seconds or
jumps back, values change anywhere); a figure delta applied gives the new figure, or there is
none and the chart is drawn again."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dashboard.frames import (
    apply_figure_delta,
    apply_live_delta,
    encode,
    figure_delta,
    live_delta,
    night_version,
    sse,
)

values = st.one_of(st.integers(-10**15, 10**15), st.text(max_size=8), st.none(),
                   st.lists(st.integers(0, 9), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(-10**15, 10**15), max_size=3))
fields = st.dictionaries(st.sampled_from(["gmv_cents", "orders", "seq", "by_device", "peak_ops",
                                          "heartbeat_ms", "stream_gap_open", "position", "ünï"]),
                         values, max_size=9)


@st.composite
def series(draw: Any) -> dict[str, Any]:
    start = draw(st.integers(1_794_326_000, 1_794_330_000)) * 1000
    n = draw(st.integers(0, 12))
    return {"start": f"s{start}", "start_ms": start,
            "orders": draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)),
            "gmv_cents": draw(st.lists(st.integers(0, 10**12), min_size=n, max_size=n))}


@st.composite
def moved_on(draw: Any, old: dict[str, Any]) -> dict[str, Any]:
    """A later series: shifted by some seconds, its newest points changed and new ones added."""
    shift = draw(st.integers(-2, 6))
    kept = {name: old[name][max(shift, 0):] for name in ("orders", "gmv_cents")}
    cut = draw(st.integers(0, len(kept["orders"])))
    added = draw(st.integers(0, 4))
    return {"start": f"s{old['start_ms'] + shift * 1000}", "start_ms": old["start_ms"] + shift * 1000,
            "orders": kept["orders"][:cut] + draw(st.lists(st.integers(0, 9), min_size=added,
                                                            max_size=added)),
            "gmv_cents": kept["gmv_cents"][:cut] + draw(st.lists(st.integers(0, 10**12),
                                                                  min_size=added, max_size=added))}


@st.composite
def snapshot_pairs(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(fields)
    new = draw(fields)
    if draw(st.booleans()):
        old["series"] = draw(series())
        if draw(st.booleans()):
            new["series"] = draw(moved_on(old["series"]))
        elif draw(st.booleans()):
            new["series"] = draw(st.one_of(series(), values))
    return old, new


@given(snapshot_pairs())
def test_a_live_delta_applied_to_the_snapshot_it_follows_gives_the_next(
        pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = pair
    delta = live_delta(old, new)
    assert apply_live_delta(old, delta) == new


def test_a_delta_carries_only_what_changed_and_the_series_new_points() -> None:
    old = {"seq": 1, "gmv_cents": 100, "orders": 1, "by_device": {"pc": 1},
           "series": {"start": "a", "start_ms": 10_000, "orders": [1, 2, 3, 4],
                      "gmv_cents": [10, 20, 30, 40]}}
    new = {"seq": 2, "gmv_cents": 150, "orders": 1, "by_device": {"pc": 1},
           "series": {"start": "b", "start_ms": 12_000, "orders": [3, 5, 6],
                      "gmv_cents": [30, 50, 60]}}
    delta = live_delta(old, new)
    assert delta["set"] == {"seq": 2, "gmv_cents": 150}
    assert delta["series"] == {"start": "b", "start_ms": 12_000, "shift": 2, "from": 1,
                               "orders": [5, 6], "gmv_cents": [50, 60]}
    assert len(encode(delta)) < len(encode(new))


traces = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["scatter", "bar"]), "x": st.lists(st.integers(0, 5), max_size=6),
    "y": st.lists(st.integers(0, 5), max_size=6)}), min_size=1, max_size=3)


@st.composite
def figure_pairs(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    layout = {"title": draw(st.sampled_from(["a", "b"]))}
    old = {"data": draw(traces), "layout": layout}
    data = []
    for trace in old["data"]:
        if draw(st.booleans()):
            cut = draw(st.integers(0, min(len(trace["x"]), len(trace["y"]))))
            extra = draw(st.lists(st.integers(0, 5), max_size=4))
            data.append({**trace, "x": trace["x"][:cut] + extra, "y": trace["y"][:cut] + extra})
        else:
            data.append(dict(trace))
    if draw(st.booleans()):
        data = draw(traces)
    return old, {"data": data, "layout": {"title": draw(st.sampled_from(["a", "b"]))}}


@given(figure_pairs())
def test_a_figure_delta_applied_gives_the_new_figure_or_there_is_none(
        pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = pair
    delta = figure_delta(old, new)
    if delta is None:
        return
    assert apply_figure_delta(old, delta) == new
    if old == new:
        assert delta == {}
    # extendTraces extends every trace it names by the same arrays.
    for tails in delta.get("add", {}).values():
        assert len(tails) == len(delta["traces"])


def test_a_growing_line_is_extended_and_a_changed_layout_is_drawn_again() -> None:
    old = {"data": [{"type": "scatter", "x": [1, 2, 3], "y": [5, 6, 7]}], "layout": {"t": 1}}
    new = {"data": [{"type": "scatter", "x": [1, 2, 3, 4], "y": [5, 6, 8, 9]}], "layout": {"t": 1}}
    assert figure_delta(old, new) == {"traces": [0], "keep": [2], "add": {"x": [[3, 4]], "y": [[8, 9]]}}
    assert figure_delta(old, {**new, "layout": {"t": 2}}) is None
    assert figure_delta(old, old) == {}
    recoloured = {"data": [{**new["data"][0], "line": {"color": "red"}}], "layout": {"t": 1}}
    assert figure_delta(old, recoloured) is None


def test_frames_are_one_event_each_whatever_the_text() -> None:
    """A line break in a value (stream text reaches the snapshot) cannot end the event early."""
    frame = sse("live", encode({"merchant": "a\n\nevent: refused\ndata: x\r\n"}))
    assert frame.count(b"\n\n") == 1 and frame.endswith(b"\n\n")
    assert night_version(b"x") != night_version(b"y") and len(night_version(b"x")) == 16
