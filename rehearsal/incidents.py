"""Labelled incidents the simulator can inject: what they are, how they are written, their labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ingest.contract import beijing_iso
from rehearsal.festival import CATEGORIES, PAYMENTS, REGIONS

# kind -> (dimension name or None, default magnitude, what the magnitude means)
KINDS: dict[str, tuple[str | None, float, str]] = {
    "payment_outage": (None, 0.95, "share of orders that fail to pay"),
    "payment_dark": ("payment", 1.0, "share of that payment path's orders lost"),
    "device_dark": ("device", 1.0, "share of that channel's orders lost"),
    "region_dark": ("region", 1.0, "share of that region's orders lost"),
    "price_glitch": ("category", 10.0, "factor applied to that category's order values"),
    "bot_burst": ("buyer", 0.15, "extra orders from a few buyers, as a share of the rate"),
    "oversell": ("item", 1.0, "units sold beyond stock per second"),
    "malformed_burst": (None, 0.10, "malformed events, as a share of the rate"),
    "duplicate_resend": (None, 0.30, "share of orders sent again"),
    "late_arrivals": (None, 0.25, "share of orders arriving 30-300 s late"),
}
_DURATION = re.compile(r"(-?)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")
_SPEC = re.compile(r"(?P<kind>[a-z_]+)(?:@(?P<at>-?[0-9hms]+))?(?:/(?P<for>[0-9hms]+))?"
                   r"(?::(?P<target>[a-z_]+=[^\s,*]+))?(?:\*(?P<magnitude>[0-9.]+))?")


def parse_duration_s(text: str) -> int:
    """'90s', '90', '15m', '1h30m', '-5m' -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match or not any(match.groups()[1:]):
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h30m or -5m")
    sign, hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return -total if sign else total


@dataclass(frozen=True)
class Incident:
    kind: str
    start_s: int  # seconds after midnight, Beijing time
    duration_s: int
    target: str | None = None  # e.g. "device=pad"
    magnitude: float = 1.0

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s

    @property
    def target_value(self) -> str | None:
        return self.target.split("=", 1)[1] if self.target else None


def parse_incident(spec: str) -> Incident:
    """KIND[@START][/DURATION][:DIM=VALUE][*MAGNITUDE], e.g. device_dark@3m/60s:device=pad."""
    match = _SPEC.fullmatch(spec.strip())
    if not match or match["kind"] not in KINDS:
        raise ValueError(f"{spec!r} is not an incident like device_dark@3m/60s:device=pad "
                         f"(kinds: {', '.join(KINDS)})")
    dimension, magnitude, _ = KINDS[match["kind"]]
    target = match["target"]
    if target and target.split("=", 1)[0] != dimension:
        raise ValueError(f"{match['kind']} targets a {dimension or 'whole stream'}, not {target!r}")
    return Incident(
        kind=match["kind"],
        start_s=parse_duration_s(match["at"]) if match["at"] else 60,
        duration_s=parse_duration_s(match["for"]) if match["for"] else 60,
        target=target,
        magnitude=float(match["magnitude"]) if match["magnitude"] else magnitude,
    )


def _default_target(kind: str, rng: np.random.Generator) -> str | None:
    dimension = KINDS[kind][0]
    choices = {
        "payment": [p[0] for p in PAYMENTS[:3]],
        "device": ["pc", "pad"],
        "region": [r[0] for r in REGIONS[:12]],
        "category": [c[0] for c in CATEGORIES],
    }
    if dimension in choices:
        return f"{dimension}={choices[dimension][int(rng.integers(len(choices[dimension])))]}"
    return None


def with_targets(incidents: list[Incident], seed: int) -> list[Incident]:
    """Fill in a dimension value where the spec left it to the seed."""
    rng = np.random.default_rng([seed, 0x1AC1])
    filled = []
    for incident in incidents:
        target = incident.target or _default_target(incident.kind, rng)
        filled.append(Incident(incident.kind, incident.start_s, incident.duration_s,
                               target, incident.magnitude))
    return filled


def every_kind(start_s: int, duration_s: int, seed: int) -> list[Incident]:
    """One incident of each kind, spread over the window without overlap, in a seeded order."""
    rng = np.random.default_rng([seed, 0x5C4E])
    kinds = list(KINDS)
    rng.shuffle(kinds)
    first = start_s + max(duration_s // 10, 30)
    slot = max((start_s + duration_s - first) // len(kinds), 20)
    incidents = []
    for i, kind in enumerate(kinds):
        length = int(min(max(slot // 3, 10), 120))
        offset = int(rng.integers(0, max(slot - length - 5, 1)))
        incidents.append(Incident(kind, first + i * slot + offset, length,
                                  magnitude=KINDS[kind][1]))
    return with_targets(incidents, seed)


def label(incident: Incident, midnight: int, start_ms: int | None = None) -> dict[str, object]:
    """The label of an injected incident; `start_ms` overrides when the effect began later."""
    start = start_ms if start_ms is not None else midnight + incident.start_s * 1000
    end = midnight + incident.end_s * 1000
    return {"kind": incident.kind, "start": beijing_iso(start), "end": beijing_iso(end),
            "start_ms": start, "end_ms": end, "dimension": incident.target,
            "magnitude": incident.magnitude}

