"""The worker's alerting: after each committed batch, the detectors run on what it changed
(stock, orders, seconds) and their changes of state go to the kept alert book."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import redis

from common.settings import Settings
from ingest.continuity import StreamGap
from ingest.contract import midnight_ms
from ingest.detect.alerts import Rule
from ingest.detect.arrivals import ArrivalDetectors, HeldByClock
from ingest.detect.inventory import InventoryFeed
from ingest.detect.keeper import AlertKeeper, alerts_path
from ingest.detect.oversell import OversellWatch
from ingest.detect.reference import LastYearCurve
from ingest.detect.resends import ResendFlood
from ingest.detect.seasonal import SecondDetectors

# item ids -> (item_id, quantity) of what the committed orders hold of them
SoldScan = Callable[[list[str]], pa.Table]
# Fires at once; resolved when acknowledged (ingest/continuity.py).
STREAM_GAP = Rule("stream_gap", "critical", 0, 0)


class Watch(AlertKeeper):
    def __init__(self, client: redis.Redis, settings: Settings, recorded: pa.Table,
                 scan_sold: SoldScan, partitioned: bool = False) -> None:
        """`recorded`: item_id, quantity of the declared items' sales the store holds;
        `partitioned`: fed the partitions' checkpoints by the combiner."""
        super().__init__(client, settings, alerts_path(settings.data_dir), settings.alerts_key)
        self.scan_sold = scan_sold
        self.oversell = OversellWatch()
        self.reference = LastYearCurve(
            Path(settings.last_year_data_dir),
            midnight_ms(date.fromisoformat(settings.festival_date))) \
            if settings.last_year_data_dir else None
        self.seconds = SecondDetectors(self.book, self.reference)
        self.arrivals: ArrivalDetectors | HeldByClock = \
            HeldByClock(ArrivalDetectors(self.book)) if partitioned else ArrivalDetectors(self.book)
        self.resends = ResendFlood(self.book)
        self.inventory = InventoryFeed(client, settings.inventory_stream, self.oversell)
        self.oversell.add_sold(recorded)
        self.recorded = set(recorded["item_id"].to_pylist())  # items the store counts
        self._corrections: list[pa.Table] = []
        self._changed: set[str] = set()
        self.read_stock()

    def read_stock(self) -> None:
        """New declared stock; an item declared for the first time gets its sales so far from
        the committed orders (once: the next commit records them)."""
        changed = self.inventory.read()
        self._changed |= changed
        new = sorted(item for item in changed if item not in self.recorded
                     and item not in self.oversell.sold)
        if new:
            sold = self.scan_sold(new)
            found = set(sold["item_id"].to_pylist())
            missing = [item for item in new if item not in found]
            sold = pa.concat_tables([sold, pa.table({"item_id": pa.array(missing, pa.string()),
                                                     "quantity": pa.array([0] * len(missing),
                                                                          pa.int64())})])
            self.oversell.add_sold(sold)
            self._corrections.append(sold)

    def declared_sales(self, accepted: pa.Table) -> pa.Table:
        """item_id, quantity: what this checkpoint sold of the declared items, and the sales
        found for newly declared ones, for the store."""
        declared = pa.array(list(self.oversell.stock), pa.string())
        mine = accepted.filter(pc.is_in(accepted["item_id"], declared)).group_by(
            "item_id", use_threads=False).aggregate([("quantity", "sum")])
        rows = pa.table({"item_id": mine["item_id"].cast(pa.string()),
                         "quantity": mine["quantity_sum"].cast(pa.int64())})
        table = pa.concat_tables([rows, *self._corrections])
        self.recorded |= set(table["item_id"].to_pylist())
        self._corrections = []
        return table

    def after_checkpoint(self, accepted: pa.Table, sent: int, rejected: int, duplicates: int,
                         window_deltas: pa.Table, clock_ms: int,
                         arrival_ms: int | None = None,
                         first_arrival_ms: int | None = None) -> None:
        """`accepted`: the new orders in arrival order; `sent`: the entries they came from;
        `clock_ms`: the night's event-time clock (its latest second) after them; `arrival_ms`:
        when the newest of them arrived (its stream id's time), `first_arrival_ms` the oldest."""
        changed_stock, self._changed = self._changed, set()
        if self.reference is not None:
            self.reference.refresh()
        changes = self.oversell.after_checkpoint(accepted, self.book, changed_stock, clock_ms)
        changes += self.arrivals.after_batch(accepted, sent, rejected, duplicates, clock_ms)
        changes += self.resends.after_batch(sent, duplicates, arrival_ms, clock_ms,
                                            first_arrival_ms)
        self.seconds.add(window_deltas)
        changes += self.seconds.judge_until(clock_ms // 1000)
        self.publish(changes)
        self.merge_acks()

    def quiet(self, now_s: int) -> None:
        """No orders for a while on a live night: judge the seconds up to now (as empty), and
        end the oversells whose items have not sold for long enough (the last orders of the
        night, or an outage: no batch comes to end them)."""
        self.publish(self.seconds.judge_until(now_s) + self.oversell.ended(self.book, now_s * 1000))

    def stream_gap(self, gap: StreamGap, clock_ms: int) -> None:
        """Entries lost before they were read: critical at once, open until someone
        acknowledges it (nothing will bring them back; a person must know)."""
        self.publish(self.book.observe(STREAM_GAP, f"stream={gap.stream}", True, clock_ms,
                                       gap.message(), actual=gap.lost))

    def gap_open(self) -> bool:
        """A stream gap no one has acknowledged yet: the screens say the totals are short."""
        return any(a.kind == STREAM_GAP.kind and a.acknowledged_ms is None
                   for a in self.book.firing())

    def merge_acks(self) -> None:
        super().merge_acks()
        seen = [a for a in self.book.firing() if a.kind == STREAM_GAP.kind
                and a.acknowledged_ms is not None]
        for alert in seen:
            self.publish(self.book.observe(STREAM_GAP, alert.dimension, False, alert.start_ms))


class PartitionWatch:
    """The watch of one partition's worker when several share the night: it judges nothing
    (the combiner judges the summed flow, ingest/combine.py) and records no item sales."""

    def read_stock(self) -> None:
        pass

    def declared_sales(self, accepted: pa.Table) -> pa.Table:
        return accepted.select(["item_id", "quantity"]).slice(0, 0)

    def after_checkpoint(self, accepted: pa.Table, sent: int, rejected: int, duplicates: int,
                         window_deltas: pa.Table, clock_ms: int,
                         arrival_ms: int | None = None,
                         first_arrival_ms: int | None = None) -> None:
        pass

    def quiet(self, now_s: int) -> None:
        pass

    def stream_gap(self, gap: StreamGap, clock_ms: int) -> None:
        pass  # the combiner tells of every partition's gaps

    def gap_open(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def merge_acks(self) -> None:
        pass

    def close(self) -> None:
        pass
