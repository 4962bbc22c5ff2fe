"""Detectors over the night's seconds of event time: sales collapsing against what the night
should look like now, one channel, region or payment path going dark or losing share while the
others are normal, one category's average order value jumping.

A second is judged once, SETTLE_S after the night's clock has passed it (a late order counts in
the totals but is not judged again). Expectations come from the seconds judged normal just
before: a median for the volume (scaled by last year's curve at the same second when one is
loaded), a share or an average for a dimension value. Seconds are pooled, newest first, until the
expectation holds enough orders to tell a drop from chance, so the same rules hold at midnight's
peak and in the 02:30 trough; what never gets enough orders is not judged at all.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from ingest.detect.alerts import Alert, AlertBook, Rule

SETTLE_S = 2  # a second is judged once the clock is this far past it: nearly all of it is in
POOL_MAX_S = 15
MIN_BASELINE_S = 20
VOLUME_BASELINE_S = 30  # the volume changes fast around midnight: a short memory
SHARE_BASELINE_S = 120  # shares and prices drift slowly: a longer, steadier memory
SHARE_FREEZE_MAX_S = 600  # the longest another value's outage keeps a dimension's shares unlearned
VOLUME_MIN_EXPECTED = 50  # orders a pooled expectation must hold before a drop is judged
SHARE_MIN_EXPECTED = 60
REST_MIN_ORDERS = 30  # the other values' orders a value is judged beside
PRICE_MIN_ORDERS = 30
Z = 4.0  # how many standard deviations below expectation a drop must be
# Of expected: fires at 65 % (half an outage, with the noise rule, is seen in seconds), open
# until 80 %, "dark" below 10 %.
DROP_FIRE, DROP_HOLD, DARK = 0.65, 0.8, 0.1
PRICE_FIRE, PRICE_HOLD = 3.0, 1.5  # factor of the usual average order value, either way
MAX_CATCH_UP_S = 3600  # a longer gap (a stopped stream) is skipped, not judged second by second
MIX_DIMENSIONS = ("device", "region", "payment")
MAX_TRACKED = 256  # values per dimension (and categories) watched: a spray of new ones is not

FIRE_S, RESOLVE_S = 3_000, 10_000
ORDERS_DROP = Rule("orders_drop", "critical", FIRE_S, RESOLVE_S)
GMV_DROP = Rule("gmv_drop", "critical", FIRE_S, RESOLVE_S)
PRICE_GLITCH = Rule("price_glitch", "critical", FIRE_S, RESOLVE_S)
DARK_RULES = {d: Rule(f"{d}_dark", "warning", FIRE_S, RESOLVE_S) for d in MIX_DIMENSIONS}

# Orders at a second (epoch seconds) by last year's curve, aligned at the same second of the night.
Reference = Callable[[int], int | None]


@dataclass
class Second:
    orders: int = 0
    gmv: int = 0
    values: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # -> [orders, gmv]

    def orders_of(self, key: tuple[str, str]) -> int:
        return self.values[key][0] if key in self.values else 0


class Rolling:
    """The last `size` (part, whole) pairs judged normal, with their sums kept as they go."""

    def __init__(self, size: int) -> None:
        self.pairs: deque[tuple[int, int]] = deque()
        self.size = size
        self.part = self.whole = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def append(self, part: int, whole: int) -> None:
        self.pairs.append((part, whole))
        self.part += part
        self.whole += whole
        if len(self.pairs) > self.size:
            old_part, old_whole = self.pairs.popleft()
            self.part -= old_part
            self.whole -= old_whole


def _reading(fire: bool, hold: bool, is_open: bool) -> bool | None:
    """True: abnormal; None: between the thresholds with an alert open (keep it); False: normal."""
    if fire:
        return True
    return None if hold and is_open else False


def _mad(values: list[int]) -> float:
    middle = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - middle) for v in values)


class SecondDetectors:
    def __init__(self, book: AlertBook, reference: Reference | None = None) -> None:
        self.book, self.reference = book, reference
        self.waiting: dict[int, Second] = {}
        self.judged_until: int | None = None
        self.recent: deque[Second] = deque(maxlen=POOL_MAX_S)
        self.volume_base: deque[tuple[int, int, int]] = deque(maxlen=VOLUME_BASELINE_S)
        # (orders of the value, orders of the second) and (GMV, orders) of a category.
        self.share_base: defaultdict[tuple[str, str], Rolling] = defaultdict(
            lambda: Rolling(SHARE_BASELINE_S))
        self.price_base: defaultdict[str, Rolling] = defaultdict(lambda: Rolling(SHARE_BASELINE_S))

    def add(self, window_deltas: pa.Table) -> None:
        """One batch's rows (second, dimension, value, gmv_cents, orders); seconds already judged
        are not judged again."""
        rows = window_deltas.to_pydict()
        judged = self.judged_until if self.judged_until is not None else -(2 ** 62)
        for second, dimension, value, gmv, orders in zip(
                rows["second"], rows["dimension"], rows["value"], rows["gmv_cents"],
                rows["orders"], strict=True):
            if second <= judged:
                continue
            entry = self.waiting.setdefault(second, Second())
            if dimension == "all":
                entry.orders += int(orders)
                entry.gmv += int(gmv)
            else:
                pair = entry.values.setdefault((dimension, value), [0, 0])
                pair[0] += int(orders)
                pair[1] += int(gmv)

    def judge_until(self, clock_s: int) -> list[Alert]:
        """Judge every second the clock has settled past; the changes of alert state."""
        last = clock_s - SETTLE_S
        if self.judged_until is None:
            if not self.waiting:
                return []
            self.judged_until = min(self.waiting) - 1
        if last - self.judged_until > MAX_CATCH_UP_S:
            self.judged_until = last - POOL_MAX_S
            self.recent.clear()
        changes: list[Alert] = []
        for second in range(self.judged_until + 1, last + 1):
            # Known once the clock reached second + SETTLE_S, however large the batch that
            # brought it (a backlog's batch spans many seconds; the night's spans one).
            changes += self._judge(second, (second + SETTLE_S) * 1000)
            self.judged_until = second
        for second in [s for s in self.waiting if s <= self.judged_until]:
            del self.waiting[second]
        return changes

    def _judge(self, second: int, clock_ms: int) -> list[Alert]:
        now = self.waiting.pop(second, None) or Second()
        self.recent.append(now)
        at_ms = second * 1000
        return (self._volume(second, now, at_ms, clock_ms) + self._mix(now, at_ms, clock_ms)
                + self._price(now, at_ms, clock_ms))

    # Total orders/s and GMV against the night's expectation.

    def _expected_orders(self, second: int) -> tuple[list[float], str] | None:
        """Expected orders of the recent seconds (newest first) and what they are based on."""
        base = self.volume_base
        if len(base) < MIN_BASELINE_S:
            return None
        if self.reference is not None:
            then = [(orders, self.reference(s)) for s, orders, _ in base]
            ratios = [orders / ref for orders, ref in then if ref]
            refs = [self.reference(second - i) for i in range(len(self.recent))]
            if len(ratios) >= MIN_BASELINE_S and all(refs):
                ratio = statistics.median(ratios)
                return [ratio * (ref or 0) for ref in refs], "last year's curve"
        median = statistics.median(orders for _, orders, _ in base)
        return [float(median)] * len(self.recent), f"the last {len(base)} s"

    def _volume(self, second: int, now: Second, at_ms: int, clock_ms: int) -> list[Alert]:
        expected = self._expected_orders(second)
        if expected is None:
            self.volume_base.append((second, now.orders, now.gmv))
            return []
        per_second, basis = expected
        expect = actual = gmv = 0.0
        k = 0
        for sec, exp in zip(reversed(self.recent), per_second, strict=False):
            k += 1
            expect, actual, gmv = expect + exp, actual + sec.orders, gmv + sec.gmv
            if expect >= VOLUME_MIN_EXPECTED:
                break
        if expect < VOLUME_MIN_EXPECTED:  # too few orders to tell: nothing to learn from either
            if not self.book.is_open(ORDERS_DROP.kind, None):
                self.volume_base.append((second, now.orders, now.gmv))
            return []
        base_orders = [orders for _, orders, _ in self.volume_base]
        base_gmv = [g for _, _, g in self.volume_base]
        noise = max(math.sqrt(max(expect, 0.0)), _mad(base_orders) * math.sqrt(k))
        ratio = actual / expect
        orders_open = self.book.is_open(ORDERS_DROP.kind, None)
        orders_reading = _reading(ratio <= DROP_FIRE and expect - actual >= Z * noise,
                                  ratio < DROP_HOLD, orders_open)
        changes = self.book.observe(
            ORDERS_DROP, None, orders_reading, at_ms,
            f"orders {actual / k:,.0f}/s against {expect / k:,.0f}/s expected by {basis} "
            f"({ratio:.0%})", expected=round(expect / k, 1), actual=round(actual / k, 1),
            clock_ms=clock_ms)
        # GMV on its own: a collapse while the orders hold (the average order fell).
        aov = sum(base_gmv) / max(sum(base_orders), 1)
        expect_gmv = expect * aov
        gmv_noise = max(_mad(base_gmv) * math.sqrt(k), math.sqrt(max(expect, 0.0)) * aov)
        gmv_ratio = gmv / expect_gmv if expect_gmv else 1.0
        gmv_reading = _reading(
            gmv_ratio <= DROP_FIRE and ratio > DROP_HOLD and expect_gmv - gmv >= Z * gmv_noise,
            gmv_ratio < DROP_HOLD, self.book.is_open(GMV_DROP.kind, None))
        changes += self.book.observe(
            GMV_DROP, None, gmv_reading, at_ms,
            f"GMV ¥{gmv / k / 100:,.0f}/s against ¥{expect_gmv / k / 100:,.0f}/s expected "
            f"({gmv_ratio:.0%}) while orders hold", expected=round(expect_gmv / k / 100, 2),
            actual=round(gmv / k / 100, 2), clock_ms=clock_ms)
        if orders_reading is False and gmv_reading is False:
            self.volume_base.append((second, now.orders, now.gmv))
        return changes

    @staticmethod
    def _new_keys(keys: list, tracked: dict) -> set:
        """The keys to start watching: at most MAX_TRACKED a dimension, the first ones seen."""
        fresh = [key for key in keys if key not in tracked]
        if not fresh:
            return set()
        watched: Counter[str] = Counter(k[0] if isinstance(k, tuple) else "" for k in tracked)
        kept = set()
        for key in fresh:
            dimension = key[0] if isinstance(key, tuple) else ""
            if watched[dimension] < MAX_TRACKED:
                watched[dimension] += 1
                kept.add(key)
        return kept

    # One value of a dimension against its share of the orders.

    def _mix(self, now: Second, at_ms: int, clock_ms: int) -> list[Alert]:
        changes: list[Alert] = []
        keys = set(self.share_base) | self._new_keys(
            [k for k in now.values if k[0] in MIX_DIMENSIONS], self.share_base)
        # While one value of a dimension is dark the others hold more of what is left: their
        # shares are not learned then, or their return to normal would read as a loss (and,
        # with nothing learned while an alert is open, never resolve). An outage longer than
        # SHARE_FREEZE_MAX_S is the others' new normal: learning resumes.
        since = at_ms - SHARE_FREEZE_MAX_S * 1000
        settled = {d: not self.book.opened_since(DARK_RULES[d].kind, since) for d in MIX_DIMENSIONS}
        for key in sorted(keys):
            dimension, value = key
            base = self.share_base[key]
            if len(base) < MIN_BASELINE_S:
                base.append(now.orders_of(key), now.orders)
                continue
            share = base.part / max(base.whole, 1)
            expect, actual, noise = self._against_the_others(key, share)
            rule, where = DARK_RULES[dimension], f"{dimension}={value}"
            is_open = self.book.is_open(rule.kind, where)
            if expect < SHARE_MIN_EXPECTED:
                if not is_open and settled[dimension]:
                    base.append(now.orders_of(key), now.orders)
                continue
            ratio = actual / expect
            reading = _reading(ratio <= DROP_FIRE and expect - actual >= Z * noise,
                               ratio < DROP_HOLD, is_open)
            dark = ratio <= DARK
            changes += self.book.observe(
                rule, where, reading, at_ms,
                f"{value} {'dark' if dark else 'losing share'}: {actual:,.0f} orders against "
                f"{expect:,.0f} expected at its usual {share:.1%} share ({ratio:.0%})",
                expected=round(expect, 1), actual=actual, clock_ms=clock_ms,
                severity="critical" if dark else None)
            if reading is False and settled[dimension]:
                base.append(now.orders_of(key), now.orders)
        return changes

    def _against_the_others(self, key: tuple[str, str], share: float
                            ) -> tuple[float, float, float]:
        """The value's orders in the recent seconds (pooled newest first until there are enough)
        against what its usual share says it should have *beside the other values* (its odds times
        their orders), and that expectation's noise. Against the others, not the total: when
        mobile, 86 % of the orders, loses half, the total falls with it and mobile still holds
        75 % of it (a share rule sees 88 % of normal); beside the others it holds half. And when
        every value falls together (traffic, a site-wide payment failure) no value is blamed."""
        odds = share / max(1.0 - share, 1e-9)
        actual = rest = expect = noise = 0.0
        for sec in reversed(self.recent):
            mine = sec.orders_of(key)
            actual += mine
            rest += sec.orders - mine
            expect = odds * rest
            noise = math.sqrt(expect + odds * odds * rest)
            # Enough seconds pooled that a fall to DROP_FIRE would stand out of the noise (a value
            # holding most of the orders is judged beside few others: it needs more seconds).
            if expect >= SHARE_MIN_EXPECTED and rest >= REST_MIN_ORDERS \
                    and (1.0 - DROP_FIRE) * expect >= Z * noise:
                break
        if rest < REST_MIN_ORDERS:
            return 0.0, actual, 0.0  # the others too few to tell (one value holds nearly all)
        return expect, actual, noise

    # One category's average order value.

    def _price(self, now: Second, at_ms: int, clock_ms: int) -> list[Alert]:
        changes: list[Alert] = []
        keys = set(self.price_base) | self._new_keys(
            [k[1] for k in now.values if k[0] == "category"], self.price_base)
        for category in sorted(keys):
            key = ("category", category)
            mine = now.values.get(key, [0, 0])
            base = self.price_base[category]
            if len(base) < MIN_BASELINE_S or base.whole < 4 * PRICE_MIN_ORDERS:
                base.append(mine[1], mine[0])
                continue
            usual = base.part / base.whole
            orders = gmv = 0
            for sec in reversed(self.recent):
                pair = sec.values.get(key, [0, 0])
                orders, gmv = orders + pair[0], gmv + pair[1]
                if orders >= PRICE_MIN_ORDERS:
                    break
            where = f"category={category}"
            is_open = self.book.is_open(PRICE_GLITCH.kind, where)
            if orders < PRICE_MIN_ORDERS:
                if not is_open:
                    base.append(mine[1], mine[0])
                continue
            factor = gmv / orders / usual
            off = max(factor, 1 / factor) if factor > 0 else math.inf
            reading = _reading(off >= PRICE_FIRE, off >= PRICE_HOLD, is_open)
            changes += self.book.observe(
                PRICE_GLITCH, where, reading, at_ms,
                f"{category} average order ¥{gmv / orders / 100:,.2f} against its usual "
                f"¥{usual / 100:,.2f} ({factor:.1f}x)", expected=round(usual / 100, 2),
                actual=round(gmv / orders / 100, 2), clock_ms=clock_ms)
            if reading is False:
                base.append(mine[1], mine[0])
        return changes
