"""Issue #23, row 5: a merchant id `=cmd|' /C calc'!A0`, `=HYPERLINK(…)`, `@SUM(…)`, `+SUM(…)`
was written raw into the review's CSV exports: a formula in the analyst's spreadsheet.

Here every string field of an order (order, merchant, buyer, item, region, category, payment)
is a formula the contract accepts, counted by the real worker; an analyst signed in to `gmv serve`
downloads every CSV the review makes (each dimension's export, the orders, the orders of one
merchant) as the page's buttons ask for them. No text cell begins as a formula; behind its single
quote each value is the one published; the numbers are numbers. Then the neutraliser itself on
arbitrary text (common/csv_cells.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.csv_cells import csv_text, is_formula_like, neutral
from dashboard.accounts import Accounts
from dashboard.format import beijing_text
from dashboard.ids import Ids
from ingest.contract import Order
from rehearsal.publish import StreamPublisher
from tests.conftest import MIDNIGHT_MS, wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.security.dash_calls import DashCalls, Reply
from tests.security.hostile_text import FORMULAS, hostile_text
from tests.security.visitor import Visitor

PASSWORD = "ana-has-a-long-password"
OWASP_STARTS = ("=", "+", "-", "@", "\t", "\r")
VALUES = (*FORMULAS, '=HYPERLINK("http://x")', "-2+3", "\t@x", "\rcalc", "=1,2\n3",
          "＝1+1", " =1+1", "plain")
ORDERS = len(VALUES)
START_MS, END_MS = MIDNIGHT_MS, MIDNIGHT_MS + 600_000


def order(i: int) -> Order:
    """Order i: every string field a hostile value (its own, or its neighbour's)."""
    value = VALUES[i]
    return Order(order_id=f"{value[:50]}#{i}", ts_ms=MIDNIGHT_MS + 60_000 + i * 1000,
                 amount_cents=10_000 + i, device="mobile", category=value, region=value,
                 merchant_id=value, buyer_id=value, item_id=VALUES[-1 - i], quantity=1 + i,
                 payment=value[:32])


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("formulas")
    Accounts(home / "data").add_user("ana", "analyst", PASSWORD)
    with running_stack(home, env={"GMV_EXPORT_RATE_PER_MIN": "1000"}) as stack:
        StreamPublisher(stack.client, stack.settings.orders_stream).publish(
            [order(i).to_payload() for i in range(ORDERS)])
        yield stack


@pytest.fixture(scope="module")
def calls(war_room: Stack) -> DashCalls:
    ana = Visitor(war_room.base_url)
    ana.sign_in("ana", PASSWORD)
    dash = DashCalls(ana)
    wait_for(lambda: note(dash) == f"Exported {ORDERS} rows", 90,
             "the orders never reached the history files")
    return dash


def export(calls: DashCalls, button: str, dimension: str | None = None,
           pick: str = "") -> str:
    """The file the review's button `button` downloads (empty when it sends none)."""
    download = press(calls, button, dimension, pick).outputs().get(f"{Ids.DOWNLOAD}.data")
    return str(download["content"]) if download else ""


def note(calls: DashCalls) -> str:
    """What the review says beside its buttons after exporting the range's orders."""
    return str(press(calls, Ids.EXPORT_ORDERS).outputs().get(f"{Ids.EXPORT_NOTE}.children"))


def press(calls: DashCalls, button: str, dimension: str | None = None, pick: str = "") -> Reply:
    reply = calls.call(f"{Ids.DOWNLOAD}.data", {
        f"{button}.n_clicks": 1, f"{Ids.REVIEW_START}.value": beijing_text(START_MS),
        f"{Ids.REVIEW_END}.value": beijing_text(END_MS),
        f"{Ids.REVIEW_RESOLUTION}.value": "minute", f"{Ids.REVIEW_DIMENSION}.value": dimension,
        f"{Ids.REVIEW_COMPARE}.value": "previous",
        f"{Ids.REVIEW_CONTRIBUTOR_TITLE}.data-pick": pick, f"{Ids.LANG}.data": "en"},
        changed=f"{button}.n_clicks")
    assert reply.status == 200, reply.body[:500]
    return reply


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def text_cells_are_neutral(table: list[list[str]], text_columns: set[str]) -> list[str]:
    """Every text cell: not a formula by OWASP's rule; without its added quote, a published
    value (or the time of a bucket). Returns the values found."""
    header, *body = table
    found = []
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if name not in text_columns:
                continue
            assert not cell.startswith(OWASP_STARTS), (name, cell)
            original = cell[1:] if cell.startswith("'") and is_formula_like(cell[1:]) else cell
            found.append(original)
    return found


def test_no_cell_of_the_orders_export_is_a_formula(calls: DashCalls) -> None:
    table = rows(export(calls, Ids.EXPORT_ORDERS))
    text_columns = {"order_id", "category", "region", "merchant_id", "buyer_id", "item_id",
                    "payment", "device"}
    assert text_columns <= set(table[0])
    found = text_cells_are_neutral(table, text_columns)
    for value in VALUES:
        assert value in found, f"{value!r} is not in the export as it was published"
    by_name = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert sorted(int(r["quantity"]) for r in by_name) == list(range(1, ORDERS + 1))
    assert sum(Decimal(r["amount"]) for r in by_name) == \
        sum(Decimal(10_000 + i) / 100 for i in range(ORDERS))


@pytest.mark.parametrize("dimension", ["merchant", "region", "category", "payment"])
def test_no_cell_of_a_dimension_export_is_a_formula(calls: DashCalls, dimension: str) -> None:
    table = rows(export(calls, Ids.EXPORT_CSV, dimension))
    assert table[0] == ["bucket_start", "value", "orders", "gmv"]
    found = set(text_cells_are_neutral(table, {"value", "bucket_start"}))
    expected = {v[:32] for v in VALUES} if dimension == "payment" else set(VALUES)
    assert expected <= found
    assert sum(int(row[2]) for row in table[1:]) == ORDERS


def test_the_orders_of_one_formula_merchant_export_as_text(calls: DashCalls) -> None:
    merchant = "=cmd|' /C calc'!A0"
    table = rows(export(calls, Ids.EXPORT_ORDERS, pick=f"merchant={merchant}"))
    assert len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["merchant_id"] == "'" + merchant and row["amount"] == "100.00"


def test_a_cell_of_each_kind_as_written() -> None:
    written = csv_text(["name", "cents", "delta", "yuan", "none"],
                       [["=1+1", 12_990, -250, Decimal("-2.50"), None],
                        ["-2+3", 0, -1, Decimal("0.01"), None],
                        ['say "hi", =x', 1, 2, Decimal("3.00"), None]])
    assert written.splitlines() == [
        '"name","cents","delta","yuan","none"',
        '"\'=1+1",12990,-250,-2.50,', '"\'-2+3",0,-1,0.01,', '"say ""hi"", =x",1,2,3.00,']


@given(hostile_text())
def test_the_neutraliser_on_any_text(value: str) -> None:
    cell = neutral(value)
    assert cell in (value, "'" + value)
    assert not cell.startswith(OWASP_STARTS)
    assert not is_formula_like(cell)
    assert (cell != value) == is_formula_like(value)
    assert rows(csv_text(["v"], [[value]]))[1:] == [[cell]]


@given(st.text(), st.integers(), st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_numbers_stay_numbers_and_text_stays_text(value: str, count: int, yuan: Decimal) -> None:
    [back] = rows(csv_text(["t", "n", "d"], [[value, count, yuan]]))[1:]
    assert back == [neutral(value), str(count), str(yuan)]
    assert int(back[1]) == count and Decimal(back[2]) == yuan
