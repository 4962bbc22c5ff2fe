"""Where the charts' labels go (dashboard/chart_labels.py): never on one another, each at its
band, however crowded the night, on a wall's plot as on a phone's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashboard.chart_labels import (
    INCIDENT_ROWS,
    LABEL_GAP_PX,
    NARROWER_PLOTS_PX,
    Band,
    Milestone,
    Placed,
    incident_labels,
    incident_layouts,
    milestone_labels,
)

PLOT_PX = 780
KINDS = ("超卖", "支付通道异常", "价格异常", "Orders drop", "地区无订单")


@st.composite
def crowded_bands(draw: st.DrawFn) -> list[Band]:
    bands = []
    for _ in range(draw(st.integers(1, 12))):
        left = draw(st.floats(0, PLOT_PX))
        width = draw(st.one_of(st.just(0.0), st.floats(0, PLOT_PX - left)))
        bands.append(Band(left, left + width, draw(st.sampled_from(KINDS))))
    return sorted(bands)


def assert_apart_and_at_their_bands(labels: list[Placed], bands: list[Band],
                                    plot_px: float) -> None:
    assert sorted(i for label in labels for i in label.bands) == list(range(len(bands)))
    for label in labels:
        assert 0 <= label.row < INCIDENT_ROWS
        assert label.left_px >= -0.01 and label.left_px + label.width_px <= plot_px + 0.01
        left = min(bands[i].left_px for i in label.bands)
        right = max(bands[i].right_px for i in label.bands)
        if right - left >= label.width_px:
            assert left - 0.01 <= label.left_px and label.left_px + label.width_px <= right + 0.01
        else:
            assert label.left_px - 0.01 <= (left + right) / 2 <= label.left_px + label.width_px + 0.01
        if len(label.bands) > 1:
            assert label.text == f"{len(label.bands)} 起事件"
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a.row == b.row:
                assert a.left_px + a.width_px + LABEL_GAP_PX <= b.left_px or \
                    b.left_px + b.width_px + LABEL_GAP_PX <= a.left_px


@given(crowded_bands())
def test_incident_labels_never_overlap_and_each_stands_at_its_bands(bands: list[Band]) -> None:
    assert_apart_and_at_their_bands(incident_labels(bands, PLOT_PX, "{n} 起事件"), bands, PLOT_PX)


def scaled(bands: list[Band], k: float) -> list[Band]:
    return [b._replace(left_px=b.left_px * k, right_px=b.right_px * k) for b in bands]


@given(crowded_bands())
def test_on_every_narrower_plot_too_the_labels_are_apart_and_at_their_bands(
        bands: list[Band]) -> None:
    """A phone's plot holds ~340 reference px, not 780: the labels are laid out for it."""
    layouts = incident_layouts(bands, PLOT_PX, "{n} 起事件")
    assert [x.plot_px for x in layouts] == [PLOT_PX, *NARROWER_PLOTS_PX]
    for layout in layouts:
        assert_apart_and_at_their_bands(layout.labels, scaled(bands, layout.plot_px / PLOT_PX),
                                        layout.plot_px)


@given(crowded_bands(), st.floats(0, 1))
def test_labels_laid_out_for_a_plot_stay_apart_on_a_wider_one(bands: list[Band],
                                                              wider: float) -> None:
    """fit.js draws the layout made for the widest plot no wider than the chart's: the labels
    stay at their times (their anchors move with the plot) and keep their widths."""
    layouts = incident_layouts(bands, PLOT_PX, "{n} 起事件")
    for narrow, wide in zip(layouts[1:], layouts, strict=False):
        plot_px = narrow.plot_px + wider * (wide.plot_px - narrow.plot_px)
        k = plot_px / narrow.plot_px
        drawn = [x._replace(left_px=x.anchor_px * k - {"left": 0, "center": 0.5, "right": 1}[
            x.anchor] * x.width_px) for x in narrow.labels]
        assert_apart_and_at_their_bands(drawn, scaled(bands, plot_px / PLOT_PX), plot_px)


def test_five_incidents_in_one_second_fold_into_one_label() -> None:
    bands = [Band(300, 300, "超卖")] * 5
    (label,) = incident_labels(bands, PLOT_PX, "{n} 起事件")
    assert (label.text, label.bands) == ("5 起事件", (0, 1, 2, 3, 4))


def test_two_incidents_at_once_take_two_rows() -> None:
    labels = incident_labels([Band(300, 300, "超卖"), Band(305, 330, "价格异常")], PLOT_PX, "{n}")
    assert [(x.text, x.row) for x in labels] == [("超卖", 0), ("价格异常", 1)]


def test_a_crowd_is_folded_and_the_labels_beside_it_keep_theirs() -> None:
    """Four incidents in one second and three more close by, on a phone's plot: the four are one
    label, the others are named."""
    bands = [Band(60, 60, "超卖")] * 4 + [Band(90, 120, "订单骤降"), Band(180, 200, "价格异常"),
                                         Band(260, 280, "支付通道异常")]
    labels = incident_labels(bands, 340, "{n} 起事件")
    assert [x.text for x in labels] == ["4 起事件", "订单骤降", "价格异常", "支付通道异常"]


def test_milestones_crossed_together_share_one_label_and_apart_keep_their_own() -> None:
    marks = [Milestone(100, 2, "¥100万"), Milestone(400, 20, "¥1,000万"),
             Milestone(402, 30, "¥1亿"), Milestone(700, 240, "¥10亿")]
    labels = milestone_labels(marks, PLOT_PX)
    assert [(x.members, x.text) for x in labels] == [
        ((0,), "¥100万"), ((1, 2), "¥1,000万 → ¥1亿"), ((3,), "¥10亿")]


def test_a_milestone_at_an_edge_is_written_inwards() -> None:
    labels = milestone_labels([Milestone(2, 10, "¥100万"), Milestone(778, 200, "¥1亿")], PLOT_PX)
    assert [x.position for x in labels] == ["top right", "top left"]
