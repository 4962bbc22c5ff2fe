"""Zero oversell: an item's accepted quantity against its declared stock (the inventory stream,
the latest `ts` wins), checked after every committed batch."""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc

from common.logs import log_line
from ingest.contract import InvalidEvent, InventoryEvent, parse_inventory
from ingest.detect.alerts import Alert, AlertBook, Rule

log = logging.getLogger("gmv.detect")
OVERSELL = Rule("oversell", "critical", fire_after_ms=0, resolve_after_ms=0)
MAX_DECLARED_ITEMS = 1_000_000  # items watched; more declared ones are said and not watched


class OversellWatch:
    def __init__(self) -> None:
        self.stock: dict[str, tuple[int, int]] = {}  # item -> (ts_ms, stock)
        self.sold: dict[str, int] = {}
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
        time); resolve on a restock."""
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
                if before <= self.stock[item][1] < self.sold[item]:
                    crossed.setdefault(item, int(ts))
        # Every item this batch sold beyond its stock, so the alert says how far it has gone.
        still_over = {item for item in declared["item_id"].to_pylist()
                      if self.sold[item] > self.stock[item][1]} if declared.num_rows else set()
        changed: list[Alert] = []
        for item in set(crossed) | still_over | (changed_stock & set(self.sold)):
            stock, sold = self.stock[item][1], self.sold.get(item, 0)
            changed += book.observe(
                OVERSELL, f"item={item}", sold > stock, crossed.get(item, now_ms),
                f"item {item} oversold: {sold:,} accepted against {stock:,} in stock",
                expected=stock, actual=sold)
        return changed
