"""A simulated festival night, deterministic by seed: payloads in arrival order, stock, labels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ingest.contract import MAX_AMOUNT_CENTS, InventoryEvent, midnight_ms
from rehearsal.encode import encode_draws
from rehearsal.festival import (
    BUYERS,
    CATEGORIES,
    DEFAULT_NIGHT,
    ITEMS_PER_MERCHANT,
    MERCHANTS,
    PAYMENTS,
    QUANTITIES,
    QUANTITY_P,
    REGIONS,
    Catalogue,
    NightShape,
    OrderDraws,
    draw_orders,
)
from rehearsal.incidents import Incident, label
from rehearsal.malformed import malformed_payloads

CHUNK_S = 10
# Background noise of every real night, as shares of the orders.
DUPLICATE_SHARE, MALFORMED_SHARE, LATE_SHARE = 0.01, 0.002, 0.005
DEVICE_NAMES = ("pc", "mobile", "pad", "other")
STOCKED_ITEMS = 300
FLASH_SLOT = 99  # beyond ITEMS_PER_MERCHANT: only the oversell incident sells this item
FLASH_PRESALE_PER_S = 2


@dataclass(frozen=True)
class NightPlan:
    seed: int = 1
    peak_ops: int = 4000
    festival_day: date = date(2026, 11, 11)
    start_s: int = -120  # seconds after midnight, Beijing time
    duration_s: int = 600
    incidents: tuple[Incident, ...] = ()
    # A night continued (a second `gmv demo` on the same data dir): generate from this second
    # on (a chunk boundary), under order ids of their own; the stock and the flash sale are the
    # night's from `start_s` as before.
    resume_s: int | None = None
    # ...and of its first chunk only what arrives from this instant on (epoch ms): a run stopped
    # mid-chunk had published the rest, and the same draws again under new ids would count twice.
    resume_from_ms: int | None = None
    shape: NightShape = DEFAULT_NIGHT  # the rate curve (the simulator's own by default)

    def __post_init__(self) -> None:
        if self.resume_s is not None and not (
                self.start_s <= self.resume_s <= self.end_s
                and (self.resume_s - self.start_s) % CHUNK_S == 0):
            raise ValueError(f"resume_s {self.resume_s} is not a chunk boundary of the night "
                             f"({self.start_s}..{self.end_s} by {CHUNK_S} s)")

    @property
    def first_s(self) -> int:
        """The first second this run generates."""
        return self.start_s if self.resume_s is None else self.resume_s

    @property
    def midnight_ms(self) -> int:
        return midnight_ms(self.festival_day)

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s

    def expected_orders(self) -> float:
        seconds = np.arange(self.start_s, self.end_s) + 0.5
        return float(self.peak_ops * self.shape.rate_fraction(seconds).sum())


@dataclass
class Batch:
    """Payloads in arrival order; `arrival_ms` is when each reaches the stream (event time + delay)."""

    arrival_ms: np.ndarray
    payloads: list[bytes]
    # The night's seconds before this one are drawn by this batch: a run continued from here
    # repeats none of them (what of them arrives late, still in flight, is then never sent).
    # None for the last batch, the stragglers.
    through_s: int | None = None

    def from_ms(self, ms: int) -> Batch:
        """What of it arrives at `ms` or later."""
        keep = np.flatnonzero(self.arrival_ms >= ms)
        return Batch(self.arrival_ms[keep], [self.payloads[i] for i in keep], self.through_s)


@dataclass
class Truth:
    """What the stream carries, by fate: the ground truth the ingest must reproduce."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    gmv_cents: int = 0
    by_device: dict[str, list[int]] = field(default_factory=dict)  # device -> [gmv_cents, orders]


class NightSimulator:
    """Generates a plan's night chunk by chunk; `truth` is complete once `batches()` is exhausted."""

    def __init__(self, plan: NightPlan) -> None:
        self.plan = plan
        self.catalogue = Catalogue.build(plan.seed)
        self.truth = Truth(by_device={d: [0, 0] for d in DEVICE_NAMES})
        self._next_number = 0
        resumed = "" if plan.resume_s is None else f"r{plan.resume_s}-"
        self._id_prefix = f"{plan.festival_day:%Y%m%d}-{plan.seed}-{resumed}"
        bots = np.random.default_rng([plan.seed, 0xB07])
        self._bot_buyers = bots.integers(BUYERS // 2, BUYERS, size=4)
        self._flash = _FlashSale.plan(plan, int(bots.integers(MERCHANTS)))

    def inventory(self) -> list[bytes]:
        """Declared stock for the best-selling items and the flash-sale item, at the night's start."""
        plan, cat = self.plan, self.catalogue
        merchants, slots = np.meshgrid(np.arange(200), np.arange(ITEMS_PER_MERCHANT), indexing="ij")
        p = cat.item_probability(merchants.ravel(), slots.ravel())
        top = np.argsort(-p, kind="stable")[:STOCKED_ITEMS]
        units = plan.expected_orders() * p[top] * float((QUANTITIES * QUANTITY_P).sum())
        ts = plan.midnight_ms + plan.start_s * 1000
        events = [InventoryEvent(f"i{m:05d}{s:02d}", ts, int(3 * u) + 100)
                  for m, s, u in zip(merchants.ravel()[top], slots.ravel()[top], units, strict=True)]
        if self._flash is not None:
            events.append(InventoryEvent(self._flash.item_id, ts, self._flash.stock))
        return [e.to_payload() for e in events]

    def labels(self) -> list[dict[str, object]]:
        labels = []
        for incident in self.plan.incidents:
            entry = label(incident, self.plan.midnight_ms)
            if incident.kind == "oversell" and self._flash:
                entry = label(incident, self.plan.midnight_ms, self._flash.first_oversold_ms)
                entry["dimension"] = f"item={self._flash.item_id}"
            elif incident.kind == "bot_burst":
                entry["dimension"] = "buyer=" + ",".join(f"u{b:07d}" for b in self._bot_buyers)
            labels.append(entry)
        return labels

    def batches(self) -> Iterator[Batch]:
        pending = Batch(np.empty(0, np.int64), [])
        for chunk_s in range(self.plan.first_s, self.plan.end_s, CHUNK_S):
            end_s = min(chunk_s + CHUNK_S, self.plan.end_s)
            fresh = self._chunk(chunk_s, end_s)
            if chunk_s == self.plan.resume_s and self.plan.resume_from_ms is not None:
                fresh = fresh.from_ms(self.plan.resume_from_ms)
            arrival = np.concatenate([pending.arrival_ms, fresh.arrival_ms])
            payloads = pending.payloads + fresh.payloads
            order = np.argsort(arrival, kind="stable")
            due = int(np.searchsorted(arrival[order], self.plan.midnight_ms + end_s * 1000))
            ready = order[:due]
            yield Batch(arrival[ready], [payloads[i] for i in ready], end_s)
            pending = Batch(arrival[order[due:]], [payloads[i] for i in order[due:]])
        if pending.payloads:
            yield pending

    def _chunk(self, start_s: int, end_s: int) -> Batch:
        plan = self.plan
        rng = np.random.default_rng([plan.seed, start_s + 10**7])
        seconds = np.arange(start_s, end_s)
        expected = plan.peak_ops * plan.shape.rate_fraction(seconds + 0.5)
        ts = self._event_times(rng, seconds, rng.poisson(expected))
        draws = draw_orders(rng, self.catalogue, ts, plan.midnight_ms)
        keep = np.ones(len(ts), dtype=bool)
        amount = draws.amount_cents.copy()
        for incident in self._active(start_s, end_s):
            inside = self._inside(incident, ts)
            keep &= ~_dropped(incident, draws, inside, rng)
            if incident.kind == "price_glitch":
                hit = inside & (draws.category == _index("category", incident.target_value))
                amount = np.where(hit, np.minimum(amount * incident.magnitude, MAX_AMOUNT_CENTS),
                                  amount).astype(np.int64)
        parts = [draws.replace(amount_cents=amount).select(keep)]
        parts += [self._bot_orders(rng, i, seconds, expected) for i in self._active(start_s, end_s)
                  if i.kind == "bot_burst"]
        if self._flash is not None:
            parts.append(self._flash.orders(self, start_s, end_s))
        orders = OrderDraws.concat(parts)
        by_time = np.argsort(orders.ts_ms, kind="stable")
        numbers = self._numbers(len(orders))[by_time]  # numbered in the order they were drawn
        orders = orders.select(by_time)
        self._count_accepted(orders)
        payloads = encode_draws(orders, numbers, self._id_prefix, NAMES)
        return self._with_noise(rng, orders.ts_ms, payloads, start_s, end_s, expected)

    def _active(self, start_s: int, end_s: int) -> list[Incident]:
        return [i for i in self.plan.incidents if i.start_s < end_s and i.end_s > start_s]

    def _inside(self, incident: Incident, ts_ms: np.ndarray) -> np.ndarray:
        midnight = self.plan.midnight_ms
        return np.asarray((ts_ms >= midnight + incident.start_s * 1000)
                          & (ts_ms < midnight + incident.end_s * 1000))

    def _event_times(self, rng: np.random.Generator, seconds: np.ndarray,
                     counts: np.ndarray) -> np.ndarray:
        base = np.repeat(self.plan.midnight_ms + seconds * 1000, counts)
        return np.sort(base + rng.integers(0, 1000, size=len(base)))

    def _numbers(self, count: int) -> np.ndarray:
        numbers = np.arange(self._next_number, self._next_number + count)
        self._next_number += count
        return numbers

    def _count_accepted(self, orders: OrderDraws) -> None:
        self.truth.accepted += len(orders)
        self.truth.gmv_cents += int(orders.amount_cents.sum())
        for device, name in enumerate(DEVICE_NAMES):
            on_device = orders.device == device
            totals = self.truth.by_device[name]
            totals[0] += int(orders.amount_cents[on_device].sum())
            totals[1] += int(on_device.sum())

    def _bot_orders(self, rng: np.random.Generator, incident: Incident, seconds: np.ndarray,
                    expected: np.ndarray) -> OrderDraws:
        ts = self._event_times(rng, seconds, rng.poisson(expected * incident.magnitude))
        ts = ts[self._inside(incident, ts)]
        draws = draw_orders(rng, self.catalogue, ts, self.plan.midnight_ms)
        buyers = self._bot_buyers[rng.integers(len(self._bot_buyers), size=len(ts))]
        return draws.replace(buyer=buyers)

    def _with_noise(self, rng: np.random.Generator, ts: np.ndarray, payloads: list[bytes],
                    start_s: int, end_s: int, expected: np.ndarray) -> Batch:
        """Late arrivals, duplicate re-sends and malformed events on top of the chunk's orders."""
        n = len(ts)
        late_share, dup_share = np.full(n, LATE_SHARE), np.full(n, DUPLICATE_SHARE)
        late_low, late_high = np.full(n, 1_000), np.full(n, 30_000)
        malformed_rate = expected * MALFORMED_SHARE
        for incident in self._active(start_s, end_s):
            inside = self._inside(incident, ts)
            if incident.kind == "late_arrivals":
                late_share = np.where(inside, incident.magnitude, late_share)
                late_low = np.where(inside, 30_000, late_low)
                late_high = np.where(inside, 300_000, late_high)
            elif incident.kind == "duplicate_resend":
                dup_share = np.where(inside, incident.magnitude, dup_share)
            elif incident.kind == "malformed_burst":
                seconds = np.arange(start_s, end_s)
                active = (seconds >= incident.start_s) & (seconds < incident.end_s)
                malformed_rate = malformed_rate + np.where(active, expected * incident.magnitude, 0)
        late = rng.random(n) < late_share
        arrival = ts + np.where(late, rng.integers(late_low, late_high + 1), 0)
        dup = np.flatnonzero(rng.random(n) < dup_share)
        dup_arrival = arrival[dup] + rng.integers(50, 5_000, size=len(dup))
        retry = rng.random(len(dup)) < 0.5
        dup_payloads = [payloads[i][:-1] + b',"retry":1}' if r else payloads[i]
                        for i, r in zip(dup, retry, strict=True)]
        bad_ts = self._event_times(rng, np.arange(start_s, end_s), rng.poisson(malformed_rate))
        bad = malformed_payloads(rng, len(bad_ts), f"{self._id_prefix}bad{start_s}")
        self.truth.duplicates += len(dup)
        self.truth.rejected += len(bad)
        self.truth.sent += n + len(dup) + len(bad)
        return Batch(np.concatenate([arrival, dup_arrival, bad_ts]).astype(np.int64),
                     payloads + dup_payloads + bad)


# The values of each dimension, in the order of the indices that `draw_orders` returns.
NAMES: dict[str, list[str]] = {
    "device": list(DEVICE_NAMES), "category": [c[0] for c in CATEGORIES],
    "region": [r[0] for r in REGIONS], "payment": [p[0] for p in PAYMENTS],
}
_DROP_DIMENSIONS = {"payment_dark": "payment", "device_dark": "device", "region_dark": "region"}


def _index(dimension: str, value: str | None) -> int:
    names = NAMES[dimension]
    return names.index(value) if value in names else -1


def _dropped(incident: Incident, draws: OrderDraws, inside: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Orders that an outage or a dark channel stops from being paid."""
    if incident.kind == "payment_outage":
        hit = inside
    elif incident.kind in _DROP_DIMENSIONS:
        column = _DROP_DIMENSIONS[incident.kind]
        hit = inside & (getattr(draws, column) == _index(column, incident.target_value))
    else:
        return np.zeros(len(inside), dtype=bool)
    return np.asarray(hit & (rng.random(len(inside)) < incident.magnitude))


@dataclass(frozen=True)
class _FlashSale:
    """The oversell incident: one item sold out exactly at the incident's start, then sold on."""

    item_id: str
    merchant: int
    stock: int
    presale_ts_ms: np.ndarray
    oversold_ts_ms: np.ndarray

    @property
    def first_oversold_ms(self) -> int | None:
        return int(self.oversold_ts_ms[0]) if len(self.oversold_ts_ms) else None

    @classmethod
    def plan(cls, plan: NightPlan, merchant: int) -> _FlashSale | None:
        incident = next((i for i in plan.incidents if i.kind == "oversell"), None)
        if incident is None:
            return None
        at = plan.midnight_ms + incident.start_s * 1000
        presale_from = max(plan.midnight_ms + plan.start_s * 1000, at - 50_000)
        presale = np.arange(presale_from, at, 1000 // FLASH_PRESALE_PER_S, dtype=np.int64)
        step = max(int(1000 / max(incident.magnitude, 0.01)), 1)
        oversold = np.arange(at, plan.midnight_ms + incident.end_s * 1000, step, dtype=np.int64)
        return cls(f"i{merchant:05d}{FLASH_SLOT}", merchant, len(presale), presale, oversold)

    def orders(self, sim: NightSimulator, start_s: int, end_s: int) -> OrderDraws:
        ts = np.concatenate([self.presale_ts_ms, self.oversold_ts_ms])
        low, high = sim.plan.midnight_ms + start_s * 1000, sim.plan.midnight_ms + end_s * 1000
        ts = ts[(ts >= low) & (ts < high)]
        n = len(ts)
        rng = np.random.default_rng([sim.plan.seed, start_s + 10**7, 0xF1A5])
        draws = draw_orders(rng, sim.catalogue, ts, sim.plan.midnight_ms)
        return draws.replace(
            merchant=np.full(n, self.merchant), slot=np.full(n, FLASH_SLOT),
            category=np.full(n, sim.catalogue.merchant_category[self.merchant]),
            quantity=np.ones(n, dtype=np.int64), amount_cents=np.full(n, 9_900, dtype=np.int64))
