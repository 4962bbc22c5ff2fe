"""Families of festival days: each a centre for the parts of a day (the surge's height against the
day and its decays, the night's floor, the daytime level, the evening wave's hour and height, a
second surge) around which its days are drawn. The simulator's own days are the "classic"
family; the others are days it does not make, for measuring the forecast on shapes it was not
tuned on (`bench/forecast.py`). Calibration and benchmark never share a family."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ingest.day_shape import DEFAULT_SHAPE
from rehearsal.days import varied_shape
from rehearsal.festival import NightShape


@dataclass(frozen=True)
class Family:
    name: str
    centre: NightShape
    about: str

    def draw(self, rng: np.random.Generator, spread: float = 0.5) -> NightShape:
        """One day of the family: every part around the centre's (`rehearsal.days.varied_shape`),
        a second surge ±25 % in height and ±30 minutes in time."""
        day = varied_shape(rng, self.centre.day, spread)
        if not self.centre.second:
            return NightShape(day)
        return NightShape(day, float(self.centre.second * np.exp(rng.normal(0, 0.25 * spread))),
                          int(self.centre.second_at_s + rng.normal(0, 1800 * spread)))


def _family(name: str, about: str, second: float = 0.0, second_at_h: float = 0.0,
            **parts: float) -> Family:
    return Family(name, NightShape(replace(DEFAULT_SHAPE, **parts), second,
                                   int(second_at_h * 3600)), about)


# The forecast's tables are calibrated on these (the simulator's own family among them).
CALIBRATION = (
    _family("classic", "the simulator's festival day"),
    _family("early-evening", "the evening wave at 19:00, half as high again",
            evening_hour=19.0, evening=0.045, daytime=0.025),
    _family("long-surge", "a surge whose tail lasts twice as long, a higher night",
            surge_slow=0.5, surge_slow_s=1200.0, floor=0.006),
    _family("morning-flash", "a flash sale at 10:00 (12 % of the peak)",
            second=0.12, second_at_h=10.0, lunch=0.025),
    _family("busy-night", "a night three times as busy, a lower daytime",
            floor=0.012, daytime=0.022),
    _family("noon-peak", "the day peaks at lunch, the evening faint",
            lunch=0.05, daytime=0.04, evening=0.012, final_push=0.04),
    _family("small-surge", "a surge a third smaller against a higher daytime",
            surge_fast=0.45, surge_slow=0.22, daytime=0.042, evening=0.04),
    _family("giant-surge", "a surge half as big again against a lower daytime",
            surge_fast=0.9, surge_slow=0.5, daytime=0.024, floor=0.003),
    _family("midnight-close", "the evening wave at 22:00, a final hour twice the rush",
            evening_hour=22.0, evening=0.04, final_push=0.16, daytime=0.025),
)
# Never seen by the calibration: the forecast is measured on these.
HELD_OUT = (
    _family("sharp-surge", "a sharper surge and a quieter night",
            surge_fast=0.8, surge_fast_s=120.0, surge_slow=0.2, surge_slow_s=400.0, floor=0.002),
    _family("late-evening", "the evening wave at 21:30 and twice as high",
            evening_hour=21.5, evening=0.065),
    _family("flat-day", "half the surge, twice the daytime: a day spread out",
            surge_fast=0.35, surge_slow=0.2, daytime=0.06, lunch=0.025, evening=0.045),
    _family("second-wave", "a second surge at 20:00 (35 % of the peak)",
            second=0.35, second_at_h=20.0),
    _family("quiet-day-big-push", "a quiet night and day, a final hour three times the rush",
            floor=0.0015, daytime=0.02, final_push=0.24),
    _family("slow-decay", "the surge decays over hours, the daytime lower",
            surge_fast_s=600.0, surge_slow=0.45, surge_slow_s=1800.0, daytime=0.022),
)
# An outside attack's days (issue #26's own words among them), each against one last year
# unlike it (ATTACK_LAST_YEAR): the evening an hour later and far stronger than last year's,
# or a flash sale in the afternoon: what no reading of the hours before can see coming.
ATTACK_LAST_YEAR = _family("attack-last-year", "last year for the attack's days: the evening "
                           "wave at 20:00", surge_fast=0.6, surge_fast_s=260.0, surge_slow=0.33,
                           floor=0.005, daytime=0.032, evening=0.03, evening_hour=20.0,
                           lunch=0.02, final_push=0.07)
ATTACK = (
    _family("sharp-surge-late-evening", "a sharper surge, a quieter night, the evening an hour "
            "later and twice as high (issue #26)", surge_fast=0.95, surge_fast_s=100.0,
            surge_slow=0.25, surge_slow_s=350.0, floor=0.0018, evening=0.06, evening_hour=21.0,
            lunch=0.02, final_push=0.07),
    _family("quiet-day-late-big-evening", "a quiet night and day, then an evening at 21:00 "
            "2.7 times last year's", surge_fast=1.0, surge_fast_s=150.0, floor=0.002,
            daytime=0.018, lunch=0.008, evening=0.08, evening_hour=21.0, final_push=0.12),
    _family("afternoon-flash-sale", "a flash sale at 15:00 (25 % of the peak), the evening at "
            "21:00", second=0.25, second_at_h=15.0, surge_fast=0.8, floor=0.003, evening=0.05,
            evening_hour=21.0),
)
FAMILIES = {family.name: family for family in CALIBRATION + HELD_OUT + ATTACK}

