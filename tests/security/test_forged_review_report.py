"""Issue #23, row 8: a hand-made `review-report.data` with `to_ms = from_ms + 1e13`, posted to a
callback of /review, made a 75 MB answer in 11.8 s: the contributor curve trusted the report the
browser held.

Here, against a running `gmv serve`, as signed-in people posting Dash callbacks by hand: a report
the server did not seal (or one it sealed and the browser altered) is refused with a clear message
in bounded time and size; a range longer than 48 hours is refused; a malformed selection on the
overview changes nothing; and a hostile value (wrong type, huge number, NaN, negative, a huge
list) in any control or store of /review, /ops or /guess gets a bounded, clear answer, never a 500;
a body over 1 MiB is a 413."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.accounts import Accounts
from dashboard.format import beijing_text
from dashboard.ids import Ids
from rehearsal.publish import StreamPublisher
from tests.conftest import MIDNIGHT_MS, wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.security.dash_calls import DashCalls, Reply, pattern_id
from tests.security.hostile_text import order_payload
from tests.security.visitor import Visitor

PASSWORDS = {"ana": "ana-has-a-long-password", "root": "root-has-a-long-password"}
ORDERS = 40
FROM_MS, TO_MS = MIDNIGHT_MS, MIDNIGHT_MS + 600_000
BOUNDED_S, BOUNDED_BYTES = 5.0, 200_000
REPORT = f"{Ids.REVIEW_REPORT}.data"
CURVE = f"{Ids.REVIEW_CONTRIBUTOR_CHART}.figure"
TITLE = f"{Ids.REVIEW_CONTRIBUTOR_TITLE}.children"
TABLE = f"{Ids.REVIEW_DIMENSION_TABLE}.children"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("forged-report")
    accounts = Accounts(home / "data")
    accounts.add_user("ana", "analyst", PASSWORDS["ana"])
    accounts.add_user("root", "admin", PASSWORDS["root"])
    env = {"GMV_EXPORT_RATE_PER_MIN": "1000", "GMV_GUESSES_CLOSE_AT": "2099-01-01T00:00"}
    with running_stack(home, env=env) as stack:
        StreamPublisher(stack.client, stack.settings.orders_stream).publish(
            [order_payload(i, region=("ZJ", "GD")[i % 2], merchant_id=f"m{i % 3}")
             for i in range(ORDERS)])
        yield stack


def signed_in(stack: Stack, name: str) -> DashCalls:
    visitor = Visitor(stack.base_url)
    visitor.sign_in(name, PASSWORDS[name])
    return DashCalls(visitor)


@pytest.fixture(scope="module")
def ana(war_room: Stack) -> DashCalls:
    calls = signed_in(war_room, "ana")
    wait_for(lambda: "ZJ" in json.dumps(review(calls).outputs().get(REPORT)), 90,
             "the review never had the orders")
    return calls


@pytest.fixture(scope="module")
def root(war_room: Stack, ana: DashCalls) -> DashCalls:
    return signed_in(war_room, "root")


def review(calls: DashCalls, **values: Any) -> Reply:
    """The review's answer to its range fields (the page's main callback)."""
    return calls.call(REPORT, {
        f"{Ids.REVIEW_START}.value": beijing_text(FROM_MS),
        f"{Ids.REVIEW_END}.value": beijing_text(TO_MS), f"{Ids.REVIEW_RESOLUTION}.value": "minute",
        f"{Ids.REVIEW_DIMENSION}.value": None, f"{Ids.REVIEW_COMPARE}.value": "previous",
        f"{Ids.LANG}.data": "en", **values})


def curve(calls: DashCalls, store: Any, row: Any = None) -> Reply:
    """The contributor curve, for the report `store` (row: the clicked row's index)."""
    values: dict[str, Any] = {REPORT: store, f"{Ids.LANG}.data": "en"}
    changed = REPORT
    if row is not None:
        clicked = {"type": Ids.REVIEW_CONTRIBUTOR, "index": row}
        values[f"{Ids.REVIEW_CONTRIBUTOR}.n_clicks"] = [{"id": clicked, "value": 1}]
        changed = f"{pattern_id(clicked)}.n_clicks"
    return calls.call(CURVE, values, changed)


def bounded(reply: Reply, *statuses: int) -> Reply:
    assert reply.status in (statuses or (200,)), (reply.status, reply.body[:300])
    assert reply.seconds < BOUNDED_S, f"{reply.seconds:.1f} s"
    assert reply.size < BOUNDED_BYTES, f"{reply.size:,} bytes"
    return reply


def forged_report(span_ms: int, rows: int = 1) -> dict[str, Any]:
    """A report as the page kept it before, made by hand."""
    row = {"dimension": "region", "value": "ZJ", "gmv": "1.00", "gmv_cents": 100, "share": 0.5,
           "baseline_share": 0.5, "delta": "0.00", "delta_cents": 0}
    return {"from_ms": FROM_MS, "to_ms": FROM_MS + span_ms,
            "baseline": {"with": "previous", "from_ms": FROM_MS - span_ms, "to_ms": FROM_MS,
                         "gmv": "0.00", "gmv_cents": 0, "orders": 0},
            "contributors": [row], "dimensions": {"region": [row] * rows}}


def test_the_issues_forged_report_is_refused_at_once(ana: DashCalls) -> None:
    reply = bounded(curve(ana, forged_report(10**13)))
    assert "altered" in reply.outputs()[TITLE] and CURVE not in reply.outputs()


def test_a_sealed_report_draws_its_curve_and_an_altered_one_is_refused(ana: DashCalls) -> None:
    sealed = review(ana).outputs()[REPORT]
    assert set(sealed) == {"sealed", "mac"}, "the report the page keeps is not sealed"
    drawn = bounded(curve(ana, sealed)).outputs()
    assert drawn[CURVE]["data"] and drawn[TITLE] and "altered" not in drawn[TITLE]
    assert bounded(curve(ana, sealed, row=1)).outputs()[CURVE]["data"]
    report = json.loads(sealed["sealed"])
    for change in ({"to_ms": report["from_ms"] + 10**13}, {"from_ms": 0},
                   {"contributors": report["contributors"] * 400}):
        altered = {"sealed": json.dumps({**report, **change}), "mac": sealed["mac"]}
        said = bounded(curve(ana, altered)).outputs()
        assert "altered" in said[TITLE] and CURVE not in said
    for other in ({"sealed": sealed["sealed"]}, {**sealed, "mac": "0" * 64}, [sealed], "x", 7):
        assert "altered" in bounded(curve(ana, other)).outputs()[TITLE]


def test_a_forged_report_draws_no_table(ana: DashCalls) -> None:
    forged = forged_report(600_000, rows=4_000)
    reply = bounded(ana.call(TABLE, {f"{Ids.REVIEW_DIMENSION_TABS}.value": "region",
                                     REPORT: forged, f"{Ids.LANG}.data": "en"}))
    assert "altered" in json.dumps(reply.outputs()[TABLE])


def test_a_range_longer_than_two_days_is_refused(ana: DashCalls) -> None:
    reply = bounded(review(ana, **{f"{Ids.REVIEW_END}.value": "2028-11-01 00:00",
                                   f"{Ids.REVIEW_RESOLUTION}.value": "hour"}))
    assert "longer than 48 hours" in reply.outputs()[f"{Ids.REVIEW_ERROR}.children"]
    assert REPORT not in reply.outputs()


@pytest.mark.parametrize("selected", [
    {"range": {"x": [1]}}, {"range": "x"}, {"range": {"x": None}}, {"range": {"x": [[], {}]}},
    {"range": {"x": [1, 2, 3]}}, {"range": {}}, {"points": []}, [], "x", 5, True])
def test_a_malformed_selection_on_the_overview_changes_nothing(ana: DashCalls,
                                                               selected: Any) -> None:
    reply = bounded(ana.call(f"{Ids.REVIEW_START}.value", {
        f"{Ids.REVIEW_OVERVIEW}.selectedData": selected,
        f"{Ids.REVIEW_OVERVIEW}.relayoutData": None}), 200, 204)
    assert reply.status == 204 or not reply.outputs()


def test_a_drag_on_the_overview_still_sets_the_range(ana: DashCalls) -> None:
    reply = bounded(ana.call(f"{Ids.REVIEW_START}.value", {
        f"{Ids.REVIEW_OVERVIEW}.selectedData": {"range": {"x": ["2026-11-11 00:01:00.5",
                                                                "2026-11-11 00:04:00"]}}}))
    assert reply.outputs() == {f"{Ids.REVIEW_START}.value": "2026-11-11 00:01:00",
                               f"{Ids.REVIEW_END}.value": "2026-11-11 00:04:00"}


HOSTILE = [["zh"], {"lang": "en"}, 12, -1, 1e308, math.nan, None, True, "x" * 10_000,
           ["x"] * 50_000]


@pytest.mark.parametrize("lang", HOSTILE, ids=lambda v: repr(v)[:20])
def test_a_language_store_of_any_type_is_no_500(ana: DashCalls, lang: Any) -> None:
    reply = bounded(review(ana, **{f"{Ids.LANG}.data": lang}))
    assert reply.outputs()[REPORT] and not reply.outputs()[f"{Ids.REVIEW_ERROR}.children"]


def hostile_calls() -> list[tuple[str, str, dict[str, Any], str | None]]:
    """(name, an output of the callback, values, what triggered it), for every callback that
    takes a value from the browser, with each hostile value in each of its inputs in turn."""
    base: dict[str, tuple[str, dict[str, Any], str | None]] = {
        "review": (REPORT, {f"{Ids.REVIEW_START}.value": beijing_text(FROM_MS),
                            f"{Ids.REVIEW_END}.value": beijing_text(TO_MS),
                            f"{Ids.REVIEW_RESOLUTION}.value": "minute",
                            f"{Ids.REVIEW_DIMENSION}.value": None,
                            f"{Ids.REVIEW_COMPARE}.value": "previous"}, None),
        "export": (f"{Ids.DOWNLOAD}.data", {
            f"{Ids.EXPORT_ORDERS}.n_clicks": 1, f"{Ids.REVIEW_START}.value": beijing_text(FROM_MS),
            f"{Ids.REVIEW_END}.value": beijing_text(TO_MS),
            f"{Ids.REVIEW_RESOLUTION}.value": "minute", f"{Ids.REVIEW_DIMENSION}.value": None,
            f"{Ids.REVIEW_COMPARE}.value": "previous",
            f"{Ids.REVIEW_CONTRIBUTOR_TITLE}.data-pick": "region=ZJ"},
            f"{Ids.EXPORT_ORDERS}.n_clicks"),
        "tables": (TABLE, {f"{Ids.REVIEW_DIMENSION_TABS}.value": "region",
                           REPORT: forged_report(600_000)}, None),
        "replay": (f"{Ids.REPLAY_STATE}.data", {
            f"{Ids.REPLAY_PLAY}.n_clicks": 1, f"{Ids.REPLAY_STATE}.data": {"cursor_ms": None,
                                                                           "playing": False},
            f"{Ids.REPLAY_SPEED}.value": 60, f"{Ids.REVIEW_START}.value": beijing_text(FROM_MS),
            f"{Ids.REVIEW_END}.value": beijing_text(TO_MS)}, f"{Ids.REPLAY_PLAY}.n_clicks"),
        "replay-tick": (f"{Ids.REPLAY_STATE}.data", {
            f"{Ids.REPLAY_TICK}.n_intervals": 3, f"{Ids.REPLAY_STATE}.data": {
                "cursor_ms": FROM_MS, "playing": True},
            f"{Ids.REPLAY_SPEED}.value": 60, f"{Ids.REVIEW_START}.value": beijing_text(FROM_MS),
            f"{Ids.REVIEW_END}.value": beijing_text(TO_MS)}, f"{Ids.REPLAY_TICK}.n_intervals"),
        "replay-frame": (f"{Ids.REPLAY_CHART}.figure", {
            f"{Ids.REPLAY_STATE}.data": {"cursor_ms": FROM_MS + 1, "playing": True},
            f"{Ids.REPLAY_DATA}.data": {"end_ms": [FROM_MS] * 10, "cumulative": [1] * 10}}, None),
        "drill-values": (f"{Ids.DRILL_VALUE}.options", {
            f"{Ids.DRILL_DIMENSION}.value": "region", f"{Ids.DRILL_VALUE}.value": "ZJ"}, None),
        "drill": (f"{Ids.DRILL_CHART}.figure", {
            f"{Ids.DRILL_VALUE}.value": "ZJ", f"{Ids.SLOW_TICK}.n_intervals": 1,
            f"{Ids.DRILL_DIMENSION}.value": "region"}, None),
        "guess": (f"{Ids.GUESS_NOTE}.children", {
            f"{Ids.GUESS_SUBMIT}.n_clicks": 1, f"{Ids.GUESS_NAME}.value": "x",
            f"{Ids.GUESS_AMOUNT}.value": "3000亿"}, None),
        "router": ("_pages_content.children", {"_pages_location.pathname": "/review",
                                               "_pages_location.search": "?lang=en"}, None),
    }
    cases = []
    for name, (output, values, changed) in base.items():
        for key in values:
            for value in HOSTILE:
                cases.append((f"{name}:{key.split('.')[0]}={repr(value)[:12]}", output,
                              {**values, key: value}, changed))
    return cases


@pytest.mark.parametrize(("output", "values", "changed"),
                         [pytest.param(*case[1:], id=case[0]) for case in hostile_calls()])
def test_a_hostile_value_anywhere_is_a_clear_bounded_answer(root: DashCalls, output: str,
                                                            values: dict[str, Any],
                                                            changed: str | None) -> None:
    reply = bounded(root.call(output, {**values, f"{Ids.LANG}.data": "en",
                                       f"{Ids.GUESS_LANG}.data": "en"}, changed), 200, 204, 400)
    if reply.status == 400:
        assert len(reply.body) < 1000 and "Traceback" not in reply.body


@pytest.mark.parametrize("change", [
    {"inputs": "x"}, {"inputs": [5]}, {"inputs": [{"id": 5, "property": "value"}]},
    {"inputs": [[["x"]]]}, {"state": {"a": 1}}, {"changedPropIds": [1]}, {"output": 7},
    {"outputs": "x"}])
def test_a_malformed_callback_request_is_a_clear_400(ana: DashCalls, change: dict[str, Any]) -> None:
    body = {**json.loads(ana.body(REPORT, {})), **change}
    reply = bounded(ana.post(json.dumps(body).encode()), 400)
    assert "bad callback request" in reply.body
    assert bounded(ana.post(b"[1, 2]"), 400).body.startswith("bad callback request")


def test_a_body_over_a_mebibyte_is_a_413(ana: DashCalls) -> None:
    body = ana.body(REPORT, {f"{Ids.REVIEW_START}.value": "x" * (1024 * 1024 + 1)})
    assert ana.post(body).status == 413
    assert ana.visitor.post("/login", {"name": "x" * (1024 * 1024 + 1)}).status == 413
