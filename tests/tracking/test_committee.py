"""The committee back-end: its choice among members, member re-starts, its evidence."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.core.boxes import iou_xyxy
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.tracking.committee import (
    COMMITTEE_FEATURES,
    CommitteeMeasurer,
    CommitteeParams,
    choose,
)
from tracker_annotate.tracking.measure import FrameData
from tracker_annotate.tracking.siamese import MemberResult, ResponseStats

RIGHT = np.array([100.0, 100.0, 140.0, 180.0])
LOOK_ALIKE = RIGHT + np.array([120.0, 0.0, 120.0, 0.0])  # the same size, 120 px to the right


def stats(peak: float = 0.9) -> ResponseStats:
    return ResponseStats(peak=peak, psr=8.0, second=0.2, second_ratio=0.2 / peak, entropy=0.3)


class Scripted:
    """A member that answers from a script of boxes (one per update), recording re-starts."""

    def __init__(self, name: str, script: list[np.ndarray], peak: float = 0.9) -> None:
        self.name = name
        self.script = script
        self.peak = peak
        self.step = 0
        self.inits: list[np.ndarray] = []
        self.restarted_on: np.ndarray | None = None

    def init(self, bgr: np.ndarray, xyxy: np.ndarray) -> None:
        self.inits.append(np.asarray(xyxy, dtype=np.float64))
        if self.step > 0:
            self.restarted_on = np.asarray(xyxy, dtype=np.float64)

    def update(self, bgr: np.ndarray) -> MemberResult:
        box = self.script[min(self.step, len(self.script) - 1)]
        if self.restarted_on is not None:
            box = self.restarted_on  # back on the object it was re-started on
        self.step += 1
        return MemberResult(np.asarray(box, dtype=np.float64), stats(self.peak))

    def embed(self, bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        v = np.array([1.0, float(xyxy[0]) / 1000.0], dtype=np.float32)
        return v / np.linalg.norm(v)


def frame(i: int) -> FrameData:
    return FrameData(i, np.zeros((360, 480, 3), np.uint8))


def test_choice_keeps_the_majority_when_one_member_jumps() -> None:
    results = [
        MemberResult(RIGHT, stats(0.8)),
        MemberResult(RIGHT + 2.0, stats(0.7)),
        MemberResult(LOOK_ALIKE, stats(0.99)),  # the most confident one is the jumper
    ]
    c = choose(results, RIGHT, CommitteeParams())
    assert iou_xyxy(c.xyxy, RIGHT) > 0.9
    assert sorted(c.agreeing) == [0, 1]
    assert c.extra["on_choice"] == pytest.approx(2 / 3)
    assert c.extra["agree"] < 0.4  # one pair of three agrees
    assert set(COMMITTEE_FEATURES) - {"sim"} == set(c.extra)


def test_choice_follows_the_motion_when_nobody_agrees() -> None:
    pred = LOOK_ALIKE + 3.0  # the object really moved there
    results = [MemberResult(RIGHT, stats(0.9)), MemberResult(LOOK_ALIKE, stats(0.6))]
    c = choose(results, pred, CommitteeParams())
    assert iou_xyxy(c.xyxy, LOOK_ALIKE) > 0.95
    assert c.extra["agree"] == 0.0


def test_a_jumped_member_is_restarted_on_the_committees_box() -> None:
    n = 12
    steady = [RIGHT.copy() for _ in range(n)]
    jumper = [RIGHT.copy() for _ in range(4)] + [LOOK_ALIKE.copy() for _ in range(n - 4)]
    a, b, c = Scripted("a", steady), Scripted("b", steady), Scripted("c", jumper, peak=0.99)
    m = CommitteeMeasurer.of([a, b, c], CommitteeParams(restart_after=3))
    m.start(frame(0), RIGHT)
    agree = []
    for i in range(1, n):
        got = m.measure(frame(i - 1), frame(i), RIGHT, RIGHT)
        assert got.xyxy is not None
        assert iou_xyxy(got.xyxy, RIGHT) > 0.9  # the committee never follows the jumper
        agree.append(got.extra["agree"])
    assert c.restarted_on is not None and iou_xyxy(c.restarted_on, RIGHT) > 0.9
    assert len(a.inits) == 1  # the members that stayed were never touched
    # disagreement while the jumper is off, agreement again once it is back
    assert min(agree) < 0.4
    assert agree[-1] == pytest.approx(1.0)


def test_sim_compares_with_the_seed_and_a_restart_keeps_the_seed() -> None:
    a, b = Scripted("a", [RIGHT]), Scripted("b", [RIGHT])
    m = CommitteeMeasurer.of([a, b])
    m.start(frame(0), RIGHT)
    first = m.measure(frame(0), frame(1), RIGHT, RIGHT).extra["sim"]
    assert first == pytest.approx(1.0, abs=1e-6)
    m.start(frame(2), LOOK_ALIKE)  # the engine re-starts the back-end on a search hit
    later = m.measure(frame(2), frame(3), LOOK_ALIKE, LOOK_ALIKE).extra["sim"]
    assert later < first  # still compared with the seed keyframe, not the search hit


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("agree_iou", 1.5, "an IoU above 1"),
        ("restart_iou", -0.1, "a negative IoU"),
        ("restart_after", 0, "re-starting before any frame off"),
    ],
)
def test_params_refuse_impossible_values(field: str, value: float, reason: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CommitteeParams(**{field: value})


def test_a_committee_needs_two_members() -> None:
    with pytest.raises(ConfigError, match="two or more"):
        CommitteeMeasurer("nano3")


@pytest.mark.parametrize("restart_after", [3, 1000], ids=["default", "never restarts"])
def test_engine_keeps_the_right_object_and_flags_the_jump(
    monkeypatch: pytest.MonkeyPatch, restart_after: int
) -> None:
    """Through the whole engine: one member of three jumps to a look-alike crossing nearby;
    the committee's boxes stay on the object, and the frames of the jump are flagged. The
    run's ``TrackerConfig.committee`` reaches the committee: with re-starts pushed past
    the clip, the jumped member is never re-started, and the majority still holds."""
    import tracking_scenes
    from tracking_scenes import ArraySource, MovingObject

    from tracker_annotate.core.boxes import BoxXYXY, FrameBox
    from tracker_annotate.core.project import MediaRef, Project, TrackInfo
    from tracker_annotate.tracking import backends
    from tracker_annotate.tracking.api import TrackerConfig
    from tracker_annotate.tracking.engine import track_project

    src = ArraySource(
        [
            MovingObject((40, 80, 80, 140), (2.0, 0.0), seed=5),
            MovingObject((140, 80, 180, 140), (1.5, 0.0), seed=5),  # the same texture
        ],
        n=40,
    )
    jump = 12
    monkeypatch.setitem(tracking_scenes.SCRIPTED, "src", src)
    monkeypatch.setitem(tracking_scenes.SCRIPTED, "jump", jump)
    info = backends.BACKENDS["committee"]
    from dataclasses import replace

    monkeypatch.setitem(
        backends.BACKENDS,
        "committee",
        replace(info, factory="tracking_scenes:scripted_committee", args=()),
    )
    p = Project(MediaRef("rendered", src.n_frames, src.width, src.height))
    with p.edit("keys") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY.from_array(src.truth(0, 0))))
    config = TrackerConfig(
        tracker="committee", threads=1, committee=CommitteeParams(restart_after=restart_after)
    )
    run = track_project(p, src, config)
    boxes = {b.frame: b for b in run.boxes[1]}
    for f, b in boxes.items():
        assert iou_xyxy(b.xyxy.to_array(), src.truth(0, f)) > 0.8, f"frame {f}"
    assert boxes[jump].flagged, "the frame where a member jumped is flagged"
    assert boxes[jump].confidence < boxes[3].confidence
    member_c = tracking_scenes.SCRIPTED["members"][2]  # type: ignore[index]
    assert bool(member_c.restarted) == (restart_after == 3)
