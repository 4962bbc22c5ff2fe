"""Declared stock (the inventory stream), read on from where the last read ended."""

from __future__ import annotations

from typing import Any

import redis

from ingest.detect.oversell import OversellWatch

INVENTORY_BATCH = 10_000


class InventoryFeed:
    def __init__(self, client: redis.Redis, stream: str, oversell: OversellWatch) -> None:
        self.client, self.stream, self.oversell = client, stream, oversell
        self._inventory_id = "-"

    def read(self) -> set[str]:
        """New declared stock since the last read."""
        changed: set[str] = set()
        while True:
            start = "-" if self._inventory_id == "-" else f"({self._inventory_id}"
            entries: Any = self.client.xrange(self.stream, start, "+",
                                              count=INVENTORY_BATCH)
            if not entries:
                return changed
            self._inventory_id = entries[-1][0].decode()
            changed |= self.oversell.add_inventory([bytes((fields or {}).get(b"data", b""))
                                                    for _, fields in entries])
