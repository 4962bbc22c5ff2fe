"""The shape of a festival night: rate curve, device/category/region/payment mixes, catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.day_shape import DEFAULT_SHAPE, PART_NAMES, PEAK_AT_S, DayShape, window

CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    # name, share of merchants, median unit price (yuan), log-normal sigma
    ("apparel", 0.20, 180, 0.6), ("beauty", 0.14, 260, 0.5), ("food", 0.14, 60, 0.5),
    ("electronics", 0.12, 1500, 0.8), ("home", 0.10, 300, 0.7), ("baby", 0.08, 160, 0.5),
    ("sports", 0.07, 280, 0.6), ("appliances", 0.07, 2200, 0.6), ("books", 0.05, 45, 0.4),
    ("luxury", 0.03, 6000, 0.7),
)
REGIONS: tuple[tuple[str, float], ...] = (
    ("GD", 0.13), ("ZJ", 0.10), ("JS", 0.09), ("SD", 0.07), ("SH", 0.06), ("BJ", 0.05),
    ("HA", 0.05), ("SC", 0.05), ("HB", 0.045), ("FJ", 0.04), ("HN", 0.04), ("AH", 0.035),
    ("HE", 0.035), ("LN", 0.025), ("SN", 0.02), ("CQ", 0.02), ("JX", 0.02), ("GX", 0.02),
    ("YN", 0.015), ("SX", 0.015), ("TJ", 0.015), ("GZ", 0.012), ("HL", 0.01), ("JL", 0.008),
    ("NM", 0.008), ("XJ", 0.006), ("GS", 0.006), ("HI", 0.005), ("NX", 0.003), ("QH", 0.002),
    ("XZ", 0.001), ("overseas", 0.03),
)
PAYMENTS: tuple[tuple[str, float], ...] = (
    ("alipay", 0.55), ("huabei", 0.25), ("card", 0.15), ("balance", 0.05),
)
QUANTITIES = np.array([1, 2, 3, 4, 5])
QUANTITY_P = np.array([0.78, 0.13, 0.05, 0.02, 0.02])
MERCHANTS = 20_000
ITEMS_PER_MERCHANT = 40
BUYERS = 5_000_000
# Heavy tails: an index drawn as floor(N * u**k) puts (1/N)**(1/k) of the mass on index 0.
MERCHANT_TAIL, ITEM_TAIL, BUYER_TAIL = 3.0, 2.0, 1.5


def rate_fraction(t_s: np.ndarray, shape: DayShape = DEFAULT_SHAPE) -> np.ndarray:
    """Orders/s as a fraction of the peak, `t_s` seconds after midnight (negative: the eve).

    Warm-up on the eve, the surge to 1.0 at PEAK_AT_S, then the day's `shape`: a decay that
    reaches the night trough around 02:30, the morning rise, lunch and evening waves, the
    final-hour push.
    """
    t = np.asarray(t_s, dtype=np.float64)
    warmup = 0.01 + 0.05 * np.exp(np.minimum(t, 0) / 300.0)
    rise = 0.06 + 0.94 * (np.clip(t, 0, PEAK_AT_S) / PEAK_AT_S) ** 2
    parts, sizes = shape.parts(t), shape.sizes()
    decay = sizes["surge_fast"] * parts["surge_fast"] + sizes["surge_slow"] * parts["surge_slow"]
    day = sum(sizes[name] * parts[name] for name in PART_NAMES[2:])
    return np.asarray(np.where(t < 0, warmup, np.where(t < PEAK_AT_S, rise, decay) + day))


@dataclass(frozen=True)
class NightShape:
    """A night's rate curve: a day's `DayShape` and, optionally, a second surge (a flash sale or a
    second wave at `second_at_s` after midnight, `second` of the peak at its top, rising in a
    minute and decaying as the day's fast surge). Nights unlike the default one, for measuring
    the detectors on shapes they were not tuned on (bench/alert_quality.py --shapes)."""

    day: DayShape = DEFAULT_SHAPE
    second: float = 0.0
    second_at_s: int = 1800

    def rate_fraction(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        base = rate_fraction(t, self.day)
        if not self.second:
            return base
        since = t - self.second_at_s
        rise = np.clip((since + 60.0) / 60.0, 0.0, 1.0) ** 2
        wave = np.where(since < 0, rise, np.exp(-np.maximum(since, 0) / self.day.surge_fast_s))
        return np.asarray(base + self.second * wave)


DEFAULT_NIGHT = NightShape()


def device_shares(t_s: np.ndarray) -> np.ndarray:
    """Shares of (pc, mobile, pad, other) by Beijing hour: PC in office hours, pad in the evening,
    mobile everywhere else (the commute and bedtime). Shape (len(t_s), 4)."""
    hour = np.mod(np.asarray(t_s, dtype=np.float64) / 3600.0, 24.0)
    pc = 0.08 + 0.30 * window(hour, 9.0, 18.0)
    pad = 0.04 + 0.09 * window(hour, 19.0, 23.0)
    other = np.full_like(hour, 0.02)
    mobile = 1.0 - pc - pad - other
    return np.stack([pc, mobile, pad, other], axis=-1)


def _tail_index(rng: np.random.Generator, size: int, n: int, tail: float) -> np.ndarray:
    return np.minimum((n * rng.random(size) ** tail).astype(np.int64), n - 1)


def tail_probability(index: np.ndarray, n: int, tail: float) -> np.ndarray:
    """P(index) under the heavy-tailed draw of `_tail_index`."""
    i = np.asarray(index, dtype=np.float64)
    return np.asarray(((i + 1) / n) ** (1 / tail) - (i / n) ** (1 / tail))


@dataclass(frozen=True)
class Catalogue:
    """Merchants (each selling one category) and their items' unit prices, fixed by the seed."""

    merchant_category: np.ndarray  # (MERCHANTS,) category index
    unit_price_cents: np.ndarray  # (MERCHANTS, ITEMS_PER_MERCHANT)

    @classmethod
    def build(cls, seed: int) -> Catalogue:
        rng = np.random.default_rng([seed, 0xCA7A])
        shares = np.array([c[1] for c in CATEGORIES])
        category = rng.choice(len(CATEGORIES), size=MERCHANTS, p=shares / shares.sum())
        median = np.array([c[2] for c in CATEGORIES])[category][:, None]
        sigma = np.array([c[3] for c in CATEGORIES])[category][:, None]
        price = median * np.exp(sigma * rng.standard_normal((MERCHANTS, ITEMS_PER_MERCHANT)))
        # Shop prices end in .00 or .90 or .99, like real price tags.
        endings = rng.choice([0, 90, 99], size=price.shape, p=[0.4, 0.35, 0.25])
        cents = np.maximum(np.floor(price), 1).astype(np.int64) * 100 + endings - 100 * (endings > 0)
        return cls(category, np.maximum(cents, 99))

    def item_probability(self, merchant: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return (tail_probability(merchant, MERCHANTS, MERCHANT_TAIL)
                * tail_probability(slot, ITEMS_PER_MERCHANT, ITEM_TAIL))


@dataclass(frozen=True)
class OrderDraws:
    """Column arrays of one batch of simulated orders (indices into the tables above)."""

    ts_ms: np.ndarray
    device: np.ndarray
    category: np.ndarray
    region: np.ndarray
    payment: np.ndarray
    merchant: np.ndarray
    slot: np.ndarray
    buyer: np.ndarray
    quantity: np.ndarray
    amount_cents: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ms)

    def select(self, rows: np.ndarray) -> OrderDraws:
        """The rows picked by a mask or an index array, in that order."""
        return OrderDraws(**{name: column[rows] for name, column in vars(self).items()})

    def replace(self, **columns: np.ndarray) -> OrderDraws:
        return OrderDraws(**{**vars(self), **columns})

    @staticmethod
    def concat(parts: list[OrderDraws]) -> OrderDraws:
        return OrderDraws(**{name: np.concatenate([vars(p)[name] for p in parts])
                             for name in vars(parts[0])})


def _choice_by_row(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) share matrix."""
    cumulative = np.cumsum(shares, axis=1)
    u = rng.random(len(shares))[:, None] * cumulative[:, -1:]
    return np.asarray((u > cumulative).sum(axis=1))


def draw_orders(rng: np.random.Generator, catalogue: Catalogue, ts_ms: np.ndarray,
                midnight: int) -> OrderDraws:
    n = len(ts_ms)
    t_s = (ts_ms - midnight) / 1000.0
    merchant = _tail_index(rng, n, MERCHANTS, MERCHANT_TAIL)
    slot = _tail_index(rng, n, ITEMS_PER_MERCHANT, ITEM_TAIL)
    quantity = rng.choice(QUANTITIES, size=n, p=QUANTITY_P)
    unit = catalogue.unit_price_cents[merchant, slot]
    # A third of the orders use a 5-15 % coupon.
    discount = np.where(rng.random(n) < 0.33, rng.uniform(0.85, 0.95, n), 1.0)
    amount = np.maximum((unit * quantity * discount).astype(np.int64), 1)
    region_p = np.array([r[1] for r in REGIONS])
    payment_p = np.array([p[1] for p in PAYMENTS])
    return OrderDraws(
        ts_ms=ts_ms,
        device=_choice_by_row(rng, device_shares(t_s)),
        category=catalogue.merchant_category[merchant],
        region=rng.choice(len(REGIONS), size=n, p=region_p / region_p.sum()),
        payment=rng.choice(len(PAYMENTS), size=n, p=payment_p / payment_p.sum()),
        merchant=merchant, slot=slot,
        buyer=_tail_index(rng, n, BUYERS, BUYER_TAIL),
        quantity=quantity, amount_cents=amount,
    )
