"""Where a chart's labels go so that none hides another: incident labels at their bands in rows,
or folded into one ("3 起事件"); milestones crossed close together as one label.

Plotly places text but does not keep it apart, and the server draws a figure once for every
screen. So the labels are laid out here on a reference plot in pixels as a 1080p screen shows it
(dashboard/assets/fit.js scales the text, the shifts and the plot alike on other screens: the
proportions hold). Widths are estimates on the generous side: a label is taken for wider than it
is, so labels that might touch are kept apart or folded.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

INCIDENT_FONT_PX = 13
INCIDENT_ROW_PX = 22  # an incident label's box (13 px text and its padding) and a gap
INCIDENT_ROWS = 3  # rows of labels at the top of a chart; more would hide the lines
LABEL_GAP_PX = 6
MILESTONE_FONT_PX = 17
MILESTONE_BOX_PX = 26  # a milestone's text box, 17 px tall with its line height
MILESTONE_RISE_PX = 36  # from its marker up to the top of its text ("top center")


def text_px(label: str, font_px: float) -> float:
    """A label's width as drawn in a CJK sans font: a full em for a wide character, more than
    half of one for the others."""
    ems = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.62 for c in label)
    return ems * font_px + 8  # the box's padding


class Band(NamedTuple):
    """An incident's stretch on the plot, in reference pixels from its left edge."""
    left_px: float
    right_px: float
    text: str


class Placed(NamedTuple):
    """One label: the bands it names (indexes), its text, the box it may take (from `left_px`,
    `width_px` wide), the side of the box it is anchored by (the text drawn may be narrower than
    the box, and stays at the band so) and its row."""
    bands: tuple[int, ...]
    text: str
    left_px: float
    width_px: float
    anchor: str
    row: int

    @property
    def anchor_px(self) -> float:
        return self.left_px + {"left": 0, "center": 0.5, "right": 1}[self.anchor] * self.width_px


def _place(bands: list[Band], members: tuple[int, ...], text: str, plot_px: float) -> Placed:
    """Inside its band where the band is wide enough; else across the band's middle, kept
    inside the plot."""
    left = min(bands[i].left_px for i in members)
    right = max(bands[i].right_px for i in members)
    width = text_px(text, INCIDENT_FONT_PX)
    if right - left >= width:
        return Placed(members, text, left, width, "left", 0)
    middle = (left + right) / 2
    if middle - width / 2 < 0:
        return Placed(members, text, 0.0, width, "left", 0)
    if middle + width / 2 > plot_px:
        return Placed(members, text, plot_px - width, width, "right", 0)
    return Placed(members, text, middle - width / 2, width, "center", 0)


def _rows(labels: list[Placed]) -> list[Placed] | None:
    """Each label in the first row where it touches none before it, or None when a label finds
    no row."""
    ends: list[float] = []
    placed = []
    for label in sorted(labels, key=lambda p: p.left_px):
        row = next((r for r, end in enumerate(ends) if end + LABEL_GAP_PX <= label.left_px), None)
        if row is None:
            if len(ends) == INCIDENT_ROWS:
                return None
            row = len(ends)
            ends.append(0.0)
        ends[row] = label.left_px + label.width_px
        placed.append(label._replace(row=row))
    return placed


def _chains(labels: list[Placed]) -> list[list[Placed]]:
    """Labels that overlap one another in x, directly or through others."""
    chains: list[list[Placed]] = []
    end = float("-inf")
    for label in sorted(labels, key=lambda p: p.left_px):
        if not chains or label.left_px >= end + LABEL_GAP_PX:
            chains.append([])
            end = float("-inf")
        chains[-1].append(label)
        end = max(end, label.left_px + label.width_px)
    return chains


def incident_labels(bands: list[Band], plot_px: float, folded: str) -> list[Placed]:
    """A label for every band, or for a run of bands too crowded for the rows: `folded` (with
    `{n}`) says how many. No two labels overlap."""
    groups: list[tuple[int, ...]] = [(i,) for i in range(len(bands))]
    while True:
        labels = [_place(bands, g, bands[g[0]].text if len(g) == 1 else folded.format(n=len(g)),
                         plot_px) for g in groups]
        result: list[Placed] = []
        changed = False
        for chain in _chains(labels):
            rows = _rows(chain)
            if rows is None:  # too many at once: the whole run is one label
                rows = [_place(bands, tuple(sorted(i for p in chain for i in p.bands)), "", 0)]
                changed = True
            result.extend(rows)
        if not changed:
            return sorted(result, key=lambda p: p.bands)
        groups = [p.bands for p in result]


class Milestone(NamedTuple):
    """A milestone's marker on the reference plot: x from the left, y up from the bottom."""
    x_px: float
    y_px: float
    text: str


class MilestoneLabel(NamedTuple):
    """One label for the milestones `members` (indexes), written at the last one's marker."""
    members: tuple[int, ...]
    text: str
    position: str  # Plotly's textposition


def _milestone_box(m: Milestone, text: str, plot_px: float) -> tuple[float, float, str]:
    """(left, right, textposition): centred over its marker, unless that would run past a side
    of the plot."""
    width = text_px(text, MILESTONE_FONT_PX)
    if m.x_px - width / 2 < 0:
        return m.x_px, m.x_px + width, "top right"
    if m.x_px + width / 2 > plot_px:
        return m.x_px - width, m.x_px, "top left"
    return m.x_px - width / 2, m.x_px + width / 2, "top center"


def _collide(a: Milestone, a_text: str, b: Milestone, b_text: str, plot_px: float) -> bool:
    left_a, right_a, _ = _milestone_box(a, a_text, plot_px)
    left_b, right_b, _ = _milestone_box(b, b_text, plot_px)
    return left_a < right_b + LABEL_GAP_PX and left_b < right_a + LABEL_GAP_PX and \
        abs(a.y_px - b.y_px) < MILESTONE_BOX_PX + 2


def milestone_labels(milestones: list[Milestone], plot_px: float) -> list[MilestoneLabel]:
    """Milestones whose labels would touch, merged into one: '¥1亿 → ¥10亿' (first and last)."""
    merged: list[tuple[int, ...]] = []
    for i in range(len(milestones)):
        group: tuple[int, ...] = (i,)
        while merged and _collide(milestones[merged[-1][-1]], _joined(milestones, merged[-1]),
                                  milestones[group[-1]], _joined(milestones, group), plot_px):
            group = merged.pop() + group
        merged.append(group)
    return [MilestoneLabel(g, _joined(milestones, g),
                           _milestone_box(milestones[g[-1]], _joined(milestones, g), plot_px)[2])
            for g in merged]


def _joined(milestones: list[Milestone], group: tuple[int, ...]) -> str:
    first, last = milestones[group[0]].text, milestones[group[-1]].text
    return first if len(group) == 1 else f"{first} → {last}"
