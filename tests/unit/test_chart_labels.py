"""Where the charts' labels go (dashboard/chart_labels.py): never on one another, each at its
band, however crowded the night."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashboard.chart_labels import (
    INCIDENT_ROWS,
    LABEL_GAP_PX,
    Band,
    Milestone,
    incident_labels,
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


@given(crowded_bands())
def test_incident_labels_never_overlap_and_each_stands_at_its_bands(bands: list[Band]) -> None:
    labels = incident_labels(bands, PLOT_PX, "{n} 起事件")
    assert sorted(i for label in labels for i in label.bands) == list(range(len(bands)))
    for label in labels:
        assert 0 <= label.row < INCIDENT_ROWS
        assert label.left_px >= -0.01 and label.left_px + label.width_px <= PLOT_PX + 0.01
        left = min(bands[i].left_px for i in label.bands)
        right = max(bands[i].right_px for i in label.bands)
        if right - left >= label.width_px:
            assert left <= label.left_px and label.left_px + label.width_px <= right
        else:
            assert label.left_px <= (left + right) / 2 <= label.left_px + label.width_px
        if len(label.bands) > 1:
            assert label.text == f"{len(label.bands)} 起事件"
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a.row == b.row:
                assert a.left_px + a.width_px + LABEL_GAP_PX <= b.left_px or \
                    b.left_px + b.width_px + LABEL_GAP_PX <= a.left_px


def test_five_incidents_in_one_second_fold_into_one_label() -> None:
    bands = [Band(300, 300, "超卖")] * 5
    (label,) = incident_labels(bands, PLOT_PX, "{n} 起事件")
    assert (label.text, label.bands) == ("5 起事件", (0, 1, 2, 3, 4))


def test_two_incidents_at_once_take_two_rows() -> None:
    labels = incident_labels([Band(300, 300, "超卖"), Band(305, 330, "价格异常")], PLOT_PX, "{n}")
    assert [(x.text, x.row) for x in labels] == [("超卖", 0), ("价格异常", 1)]


def test_milestones_crossed_together_share_one_label_and_apart_keep_their_own() -> None:
    marks = [Milestone(100, 2, "¥100万"), Milestone(400, 20, "¥1,000万"),
             Milestone(402, 30, "¥1亿"), Milestone(700, 240, "¥10亿")]
    labels = milestone_labels(marks, PLOT_PX)
    assert [(x.members, x.text) for x in labels] == [
        ((0,), "¥100万"), ((1, 2), "¥1,000万 → ¥1亿"), ((3,), "¥10亿")]


def test_a_milestone_at_an_edge_is_written_inwards() -> None:
    labels = milestone_labels([Milestone(2, 10, "¥100万"), Milestone(778, 200, "¥1亿")], PLOT_PX)
    assert [x.position for x in labels] == ["top right", "top left"]
