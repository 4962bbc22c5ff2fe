"""Zero oversell: an item's accepted quantity against its declared stock (the inventory stream,
the latest `ts` wins), checked after every committed batch; an alert ends with a restock, or
when the item has stopped selling beyond its stock."""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc

from common.logs import log_line
from ingest.contract import InvalidEvent, InventoryEvent, parse_inventory
from ingest.detect.alerts import RESOLVED, Alert, AlertBook, Rule

log = logging.getLogger("gmv.detect")
OVERSELL = Rule("oversell", "critical", fire_after_ms=0, resolve_after_ms=0)
# An item sold beyond its stock and then not sold again for this long (the night's clock): the
# overselling has stopped, and its alert resolves (it stays to be acknowledged: the units sold
# beyond the stock are still to be dealt with). A new sale beyond the stock opens a new one.
OVERSELL_ENDS_AFTER_MS = 5 * 60_000
MAX_DECLARED_ITEMS = 1_000_000  # items watched; more declared ones are said and not watched


class OversellWatch:
    def __init__(self) -> None:
        self.stock: dict[str, tuple[int, int]] = {}  # item -> (ts_ms, stock)
        self.sold: dict[str, int] = {}
        self.last_oversold_ms: dict[str, int] = {}  # item -> its latest sale beyond its stock
        self._declared: pa.Array | None = None  # the stock's items, rebuilt when they change
        self._full_said = False

    def add_inventory(self, payloads: list[bytes]) -> set[str]:
        """Declared stock; returns the items whose stock changed. A malformed event is logged
        and skipped: stock is absolute, the next one corrects it."""
        changed = set()
        for payload in payloads:
            try:
                event: InventoryEvent = parse_inventory(payload)
            except InvalidEvent as err:
                log_line(log, logging.WARNING, "inventory_rejected", reason=str(err))
                continue
            except Exception as err:  # noqa: BLE001 - whatever the bytes, the worker goes on
                log_line(log, logging.WARNING, "inventory_rejected",
                         reason=f"undecodable: {type(err).__name__}")
                continue
            if event.item_id not in self.stock and len(self.stock) >= MAX_DECLARED_ITEMS:
                if not self._full_said:
                    log_line(log, logging.WARNING, "inventory_full", items=len(self.stock))
                    self._full_said = True
                continue
            if event.ts_ms >= self.stock.get(event.item_id, (-1, 0))[0]:
                self.stock[event.item_id] = (event.ts_ms, event.stock)
                changed.add(event.item_id)
        if changed:
            self._declared = None
        return changed

    def add_sold(self, item_quantities: pa.Table) -> None:
        """Rows item_id, quantity: what the store had accepted at start."""
        for item, quantity in zip(item_quantities["item_id"].to_pylist(),
                                  item_quantities["quantity"].to_pylist(), strict=True):
            self.sold[item] = self.sold.get(item, 0) + int(quantity)

    def after_checkpoint(self, accepted: pa.Table, book: AlertBook, changed_stock: set[str],
                         now_ms: int) -> list[Alert]:
        """Count the accepted quantities (in arrival order); fire for each item now sold beyond
        its stock, since the event time of the order that took it past the stock in arrival
        order (a late order can make that earlier than the first unit sold beyond it by event
        time); resolve on a restock, or once the item has not been sold beyond its stock for
        OVERSELL_ENDS_AFTER_MS."""
        crossed: dict[str, int] = {}
        if self._declared is None:
            self._declared = pa.array(list(self.stock), pa.string())
        declared = accepted.filter(pc.is_in(accepted["item_id"].cast(pa.string()),
                                            self._declared))
        if declared.num_rows:
            for item, quantity, ts in zip(declared["item_id"].to_pylist(),
                                          declared["quantity"].to_pylist(),
                                          declared["ts_ms"].to_pylist(), strict=True):
                before = self.sold.get(item, 0)
                self.sold[item] = before + int(quantity)
                if self.sold[item] > self.stock[item][1]:
                    # The first sale beyond the stock: the crossing, or the first since an
                    # alert of the item ended (the start of the next one). By event time.
                    crossed.setdefault(item, int(ts))
                    self.last_oversold_ms[item] = max(self.last_oversold_ms.get(item, 0), int(ts))
        # Every item this batch sold beyond its stock, so the alert says how far it has gone.
        still_over = {item for item in declared["item_id"].to_pylist()
                      if self.sold[item] > self.stock[item][1]} if declared.num_rows else set()
        changed: list[Alert] = []
        told = self._told(book, changed_stock - set(crossed) - still_over)
        # A sale beyond the stock that arrives after the item's last oversell ended, stamped
        # before that end (a late order): news (another unit to deal with), told from the end on,
        # so that it is an alert of its own (its own key), never inside the ended one's span.
        ended_ms = self._ended_at(book, {item for item in crossed
                                         if not book.is_open(OVERSELL.kind, f"item={item}")})
        for item, end in ended_ms.items():
            if crossed[item] <= end:
                crossed[item] = end + 1000
                self.last_oversold_ms[item] = max(self.last_oversold_ms.get(item, 0), end + 1000)
        for item in set(crossed) | still_over | (changed_stock & set(self.sold)):
            stock, sold = self.stock[item][1], self.sold.get(item, 0)
            if item not in crossed and sold > stock and not book.is_open(OVERSELL.kind,
                                                                         f"item={item}"):
                if told.get(item) == (stock, sold):
                    continue  # stock declared again, nothing more sold: an oversell told of
                # The stock change took it past its stock: beyond it from now (not ended before
                # it began).
                self.last_oversold_ms[item] = max(self.last_oversold_ms.get(item, 0), now_ms)
            changed += book.observe(
                OVERSELL, f"item={item}", sold > stock, crossed.get(item, now_ms),
                f"item {item} oversold: {sold:,} accepted against {stock:,} in stock",
                expected=stock, actual=sold)
        return changed + self.ended(book, now_ms)

    @staticmethod
    def _told(book: AlertBook, items: set[str]) -> dict[str, tuple[int | None, int | None]]:
        """item -> (stock, sold) its latest oversell told of, when that one has resolved: for
        the items whose stock was declared again with no sale beyond it (at a restart, every
        declared item's)."""
        if not items:
            return {}
        dimensions = {f"item={item}" for item in items}
        latest: dict[str, Alert] = {}
        for alert in book.alerts:
            if alert.kind == OVERSELL.kind and alert.dimension in dimensions:
                latest[alert.dimension] = alert
        return {dimension.removeprefix("item="): (
                    None if alert.expected is None else int(alert.expected),
                    None if alert.actual is None else int(alert.actual))
                for dimension, alert in latest.items() if alert.state == RESOLVED}

    @staticmethod
    def _ended_at(book: AlertBook, items: set[str]) -> dict[str, int]:
        """item -> when its latest oversell ended (for the items given that have one)."""
        if not items:
            return {}
        dimensions = {f"item={item}" for item in items}
        ends = {}
        for alert in book.alerts:
            if alert.kind == OVERSELL.kind and alert.dimension in dimensions and \
                    alert.end_ms is not None:
                ends[alert.dimension.removeprefix("item=")] = alert.end_ms
        return ends

    def ended(self, book: AlertBook, now_ms: int) -> list[Alert]:
        """The open oversells of items not sold beyond their stock for OVERSELL_ENDS_AFTER_MS of
        the night's clock, resolved (ending when that time was up). One reopened by a restart
        counts from the restart (its last sale is not remembered: the alert lasts a little
        longer, never ends early)."""
        ended: list[Alert] = []
        for alert in book.open_of(OVERSELL.kind):
            item = (alert.dimension or "").removeprefix("item=")
            last = self.last_oversold_ms.setdefault(item, now_ms)
            if now_ms - last >= OVERSELL_ENDS_AFTER_MS:  # ended when the five minutes were up
                ended += book.observe(OVERSELL, alert.dimension, False,
                                      last + OVERSELL_ENDS_AFTER_MS, clock_ms=now_ms)
        return ended
