"""The shape of a festival day: orders/s as a fraction of the midnight peak, built from named
parts (the midnight surge and its two decays, the night floor, the daytime plateau, the lunch and
evening waves, the final-hour push). The simulator draws nights from it (one `DayShape` per
night) and the forecast fits the same parts to the night so far."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PEAK_AT_S = 26  # the 2020 record was reached 26 s after midnight
DAY_S = 86_400


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def window(hour: np.ndarray, start: float, end: float, sharpness: float = 3.0) -> np.ndarray:
    return _sigmoid((hour - start) * sharpness) * _sigmoid((end - hour) * sharpness)


@dataclass(frozen=True)
class DayShape:
    """The parts' sizes (fractions of the peak) and timings. The defaults are the festival day
    the simulator has always drawn; a night of its own varies them (`rehearsal.festival`)."""

    surge_fast: float = 0.65  # the first minutes' burst, decaying with `surge_fast_s`
    surge_fast_s: float = 240.0
    surge_slow: float = 0.35  # the long tail of the surge, a power law over `surge_slow_s`
    surge_slow_s: float = 600.0
    floor: float = 0.004  # the night's floor (the 02:30 trough is the surge's tail on it)
    daytime: float = 0.03  # the plateau from 08:30 to 23:30
    lunch: float = 0.015
    evening: float = 0.03
    evening_hour: float = 20.5
    final_push: float = 0.08  # the last hour's rush

    def parts(self, t_s: np.ndarray) -> dict[str, np.ndarray]:
        """Each part at `t_s` seconds after midnight (t_s >= 0), at unit size."""
        t = np.asarray(t_s, dtype=np.float64)
        hour = t / 3600.0
        after = np.maximum(t - PEAK_AT_S, 0)
        return {
            "surge_fast": np.exp(-after / self.surge_fast_s),
            "surge_slow": (1 + after / self.surge_slow_s) ** -1.2,
            "floor": np.ones_like(t),
            "daytime": window(hour, 8.5, 23.5, 1.5),
            "lunch": np.exp(-((hour - 12.5) / 0.7) ** 2),
            "evening": np.exp(-((hour - self.evening_hour) / 1.3) ** 2),
            "final_push": np.clip(hour - 23.0, 0, 1) ** 2,
        }

    def sizes(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in PART_NAMES}

    def after_peak(self, t_s: np.ndarray) -> np.ndarray:
        """Orders/s as a fraction of the peak from the peak on."""
        sizes = self.sizes()
        return np.asarray(sum(sizes[name] * part for name, part in self.parts(t_s).items()))


PART_NAMES = ("surge_fast", "surge_slow", "floor", "daytime", "lunch", "evening", "final_push")
DEFAULT_SHAPE = DayShape()
