"""Where a chart's labels go so that none hides another: incident labels at their bands in rows,
or folded into one ("3 起事件"); milestones crossed close together as one label.

Plotly places text but does not keep it apart, and the server draws a figure once for every
screen. So the labels are laid out here on a reference plot in pixels as a 1080p screen shows it
(dashboard/assets/fit.js scales the text, the shifts and the plot alike on other screens: the
proportions hold), and again on narrower reference plots: a phone's or a tablet's chart holds less
of the reference plot than a wall's (its text does not shrink with its width), and fit.js picks
the layout made for the width nearest below its own. Widths are estimates on the generous side: a
label is taken for wider than it is, so labels that might touch are kept apart or folded.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

INCIDENT_FONT_PX = 13
INCIDENT_ROW_PX = 25  # an incident label's box (22 px in Chromium at 1080p; 17 at 0.71 of it) and a gap
INCIDENT_ROWS = 3  # rows of labels at the top of a chart; more would hide the lines
LABEL_GAP_PX = 6
MILESTONE_FONT_PX = 17
MILESTONE_BOX_PX = 26  # a milestone's text box, 17 px tall with its line height
MILESTONE_RISE_PX = 36  # from its marker up to the top of its text ("top center")
# The narrower plots incident labels are laid out for too, in reference pixels, each ~9/10 of the
# one before: measured in Chromium, the night chart's plot is ~785 at 1280x720 to 3840x2160, ~638
# in a 1024x768 window, ~434 on a 768x1024 tablet, ~395 on a 430x932 phone, ~341 at 390x844, ~301
# at 360x740 and ~248 at 320x568; the orders/s chart's is ~390 on a wall and ~195 on the tablet.
NARROWER_PLOTS_PX = (700, 620, 560, 500, 450, 400, 360, 320, 290, 260, 230, 200, 180, 160)


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
    """Inside its band where the band is wide enough; else across the band's middle, or, where
    that would run past a side of the plot, from the band's edge on that side inwards. So it
    stays at its band on a wider plot too, where the band widens and the text does not."""
    left = min(bands[i].left_px for i in members)
    right = max(bands[i].right_px for i in members)
    width = text_px(text, INCIDENT_FONT_PX)
    if right - left >= width:
        return Placed(members, text, left, width, "left", 0)
    middle = (left + right) / 2
    if middle - width / 2 < 0:
        return Placed(members, text, min(left, max(plot_px - width, 0)), width, "left", 0)
    if middle + width / 2 > plot_px:
        return Placed(members, text, max(right - width, 0), width, "right", 0)
    return Placed(members, text, middle - width / 2, width, "center", 0)


class Rows(NamedTuple):
    """Labels in rows, or the crowd that keeps one from a row."""
    placed: list[Placed]
    crowd: tuple[Placed, ...]  # a label that found no row, and the nearest label in its way


def _rows(labels: list[Placed]) -> Rows:
    """Each label in the first row where it touches none before it. A label that finds no row
    makes a crowd with the nearest of the labels in its way (the last of each row): one label
    will name them both, and no more, so that the fewest incidents go unnamed."""
    ends: list[float] = []
    last: list[Placed] = []
    placed: list[Placed] = []
    ordered = sorted(labels, key=lambda p: p.left_px)
    for label in ordered:
        row = next((r for r, end in enumerate(ends) if end + LABEL_GAP_PX <= label.left_px), None)
        if row is None and len(ends) == INCIDENT_ROWS:
            return Rows(placed, (max(last, key=lambda p: p.left_px), label))
        if row is None:
            row = len(ends)
            ends.append(0.0)
            last.append(label)
        ends[row] = label.left_px + label.width_px
        last[row] = label
        placed.append(label._replace(row=row))
    return Rows(placed, ())


def incident_labels(bands: list[Band], plot_px: float, folded: str) -> list[Placed]:
    """A label for every band, or for a crowd of bands too close together for the rows:
    `folded` (with `{n}`) says how many. No two labels overlap."""
    groups: list[tuple[int, ...]] = [(i,) for i in range(len(bands))]
    while True:
        labels = [_place(bands, g, bands[g[0]].text if len(g) == 1 else folded.format(n=len(g)),
                         plot_px) for g in groups]
        rows = _rows(labels)
        if not rows.crowd:
            return sorted(rows.placed, key=lambda p: p.bands)
        # With the crowd, the bands within its stretch: five at one moment are one label.
        crowded = {i for p in rows.crowd for i in p.bands}
        left = min(bands[i].left_px for i in crowded)
        right = max(bands[i].right_px for i in crowded)
        crowded.update(*(g for g in groups
                         if all(left <= bands[i].left_px and bands[i].right_px <= right for i in g)))
        groups = [g for g in groups if crowded.isdisjoint(g)] + [tuple(sorted(crowded))]


class Layout(NamedTuple):
    """The labels laid out on a plot `plot_px` wide (in pixels on that plot): they stay apart
    on any wider plot too, where the bands are as much wider and the text is not."""
    plot_px: float
    labels: list[Placed]


def incident_layouts(bands: list[Band], plot_px: float, folded: str) -> list[Layout]:
    """`incident_labels` on the plot `plot_px` wide (the bands' own) and on each narrower one of
    NARROWER_PLOTS_PX, the bands drawn in proportion: widest first."""
    layouts = []
    for width in (plot_px, *(w for w in NARROWER_PLOTS_PX if w < plot_px)):
        k = width / plot_px
        scaled = [b._replace(left_px=b.left_px * k, right_px=b.right_px * k) for b in bands]
        layouts.append(Layout(width, incident_labels(scaled, width, folded)))
    return layouts


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
