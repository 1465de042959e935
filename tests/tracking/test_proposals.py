"""New-object proposals, rejection memory and re-finding lost tracks, on constructed scenes
with an oracle detector (the scene's true boxes), through the real engine."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.commands import add_track
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.proposals import (
    REASON_NEW,
    REASON_REFOUND,
    REJECTED_NAME,
    Proposal,
    accept_proposal,
    add_proposals,
    is_open_proposal,
    is_rejected,
    proposal_queue,
    reject_proposal,
    rejected_boxes,
)
from tracker_annotate.core.review import review_items
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun, apply_run
from tracker_annotate.tracking.confidence import REASON_END
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.proposals import (
    ProposalConfig,
    choose_interval,
    detect_on_frame,
    propose_new_objects,
    split_budget,
)
from tracker_annotate.tracking.refind import install_refound, refind_lost, refind_targets


class OracleDetector:
    """Detects the scene's visible objects exactly (score 0.9, class person), plus ``extra``
    false boxes on every frame; counts its calls."""

    class_names = ("person",)
    last_ms = 0.0

    def __init__(self, scene: ArraySource, extra: list[list[float]] | None = None) -> None:
        self.scene, self.extra, self.calls = scene, extra or [], []

    def detect(self, bgr: np.ndarray, frame: int = 0) -> Detections:
        self.calls.append(frame)
        boxes = [o.xyxy(frame) for o in self.scene.objects if o.visible[0] <= frame <= o.visible[1]]
        boxes += [np.array(e) for e in self.extra]
        n = len(boxes)
        return Detections(
            np.full(n, frame),
            np.array(boxes).reshape(-1, 4),
            np.full(n, 0.9),
            np.zeros(n, np.int64),
            {0: "person"},
        )


def _project(scene: ArraySource) -> Project:
    return Project(MediaRef("scene", scene.n_frames, scene.w, scene.h, 25.0))


def _scene() -> ArraySource:
    return ArraySource(
        [
            MovingObject((20, 60, 60, 120), (1.0, 0.0), seed=1),  # there from frame 0
            MovingObject((200, 100, 240, 160), (-1.0, 0.3), seed=2, visible=(37, 10**9)),
        ],
        n=90,
    )


def test_an_object_entering_mid_video_is_proposed_once_where_it_first_appears() -> None:
    scene = _scene()
    project = _project(scene)
    add_track(project, 0, BoxXYXY.from_array(scene.truth(0, 0)))
    apply_run(project, track_project(project, scene, TrackerConfig()))
    det = OracleDetector(scene)
    props, cost = propose_new_objects(project, scene, det, ProposalConfig(every=20))
    assert len(props) == 1  # seen at 40, 60 and 80 but proposed once: it was tracked ahead
    p = props[0]
    assert p.frame == 37  # walked back from frame 40 (by 4, then frame by frame)
    assert 36 in det.calls and not [c for c in det.calls if 20 < c < 36]  # stopped at the miss
    assert p.xyxy.iou(BoxXYXY.from_array(scene.truth(1, p.frame))) > 0.99
    assert p.later and p.later[-1].frame > 80
    truth_80 = BoxXYXY.from_array(scene.truth(1, 80))
    assert next(b for b in p.later if b.frame == 80).xyxy.iou(truth_80) > 0.7
    assert cost.calls == len(set(det.calls)) and 0 in cost.frames
    # installed: a proposed track that waits in the proposal queue (not the review queue)
    (tid,) = add_proposals(project, props)
    assert project.track(tid).proposed and project.track(tid).label == "person"
    assert project.box(tid, p.frame).flag_reason == REASON_NEW  # type: ignore[union-attr]
    assert [(q.track_id, q.frame) for q in proposal_queue(project)] == [(tid, p.frame)]
    assert not [it for it in review_items(project) if it.track_id == tid]
    # the next schedule run proposes nothing new: the proposal explains the object
    again, _ = propose_new_objects(project, scene, OracleDetector(scene), ProposalConfig(every=20))
    assert again == []


def test_rejected_proposals_are_remembered_and_not_proposed_again() -> None:
    scene = _scene()
    project = _project(scene)
    add_track(project, 0, BoxXYXY.from_array(scene.truth(0, 0)))
    static_false = [150.0, 10.0, 180.0, 50.0]  # a poster the detector takes for a person
    det = OracleDetector(scene, extra=[static_false])
    cfg = ProposalConfig(every=20, track_ahead=False)
    props, _ = propose_new_objects(project, scene, det, cfg)
    ids = add_proposals(project, props)
    by_frame = {project.boxes(t)[min(project.boxes(t))].frame: t for t in ids}
    poster = by_frame[0]
    reject_proposal(project, poster)
    assert is_rejected(project, poster) and not is_open_proposal(project, poster)
    assert project.track(poster).name == REJECTED_NAME
    assert rejected_boxes(project) == [(0, BoxXYXY(*static_false))]
    assert all(it.track_id != poster for it in review_items(project))
    for t in ids:
        if t != poster:
            reject_proposal(project, t)  # the walker too (it is rejected on its first frame)
    again, _ = propose_new_objects(project, scene, OracleDetector(scene, [static_false]), cfg)
    frames = [p.frame for p in again]
    assert all(p.xyxy.iou(BoxXYXY(*static_false)) < 0.5 for p in again)  # never the poster
    assert 0 not in frames
    # undo brings the rejected proposal back as an open one
    project.history.undo()
    project.history.undo()
    assert any(is_open_proposal(project, t) for t in ids)


def test_rejected_moving_object_is_not_proposed_again_later() -> None:
    scene = _scene()
    project = _project(scene)
    add_track(project, 0, BoxXYXY.from_array(scene.truth(0, 0)))
    apply_run(project, track_project(project, scene, TrackerConfig()))
    cfg = ProposalConfig(every=20)
    props, _ = propose_new_objects(project, scene, OracleDetector(scene), cfg)
    (tid,) = add_proposals(project, props)
    reject_proposal(project, tid)
    assert len(project.boxes(tid)) == 1  # only the outside marker is left
    again, _ = propose_new_objects(project, scene, OracleDetector(scene), cfg)
    assert again == []  # followed by the tracker from where it was rejected


def test_accepting_a_proposal_makes_its_box_a_keyframe_and_fixing_it_a_manual_one() -> None:
    scene = _scene()
    project = _project(scene)
    props = detect_on_frame(project, scene.read(50), 50, OracleDetector(scene))
    assert len(props) == 2 and {p.frame for p in props} == {50}
    a, b = add_proposals(project, props)
    accept_proposal(project, a)
    box = project.box(a, 50)
    assert box is not None and box.verified and not box.flagged and box.is_keyframe
    assert box.source is BoxSource.IMPORTED  # priced as a verification, not a draw
    assert not project.track(a).proposed
    moved = project.boxes(b)[50].xyxy.translated(3, -2)  # the annotator dragged it a little
    accept_proposal(project, b, xyxy=moved)
    fixed = project.box(b, 50)
    assert fixed is not None and fixed.source is BoxSource.MANUAL and fixed.xyxy == moved
    with pytest.raises(ProjectError, match="not an open proposal"):
        accept_proposal(project, b)
    # a frame whose objects all have tracks proposes nothing
    assert detect_on_frame(project, scene.read(50), 50, OracleDetector(scene)) == []


def _lost_scene() -> tuple[ArraySource, Project, TrackingRun]:
    scene = ArraySource(
        [
            MovingObject((40, 80, 80, 140), (2.0, 0.0), seed=3, visible=(0, 29)),
            MovingObject((40, 80, 80, 140), (2.0, 0.0), seed=3, visible=(45, 10**9)),
        ],
        n=80,
    )
    project = _project(scene)
    tid = add_track(project, 0, BoxXYXY.from_array(scene.truth(0, 0)))
    # cascade ends the pass while the object is hidden (nano finds it again by itself)
    run = track_project(project, scene, TrackerConfig(tracker="cascade", max_coast_frames=5))
    apply_run(project, run)
    assert tid == 1
    return scene, project, run


def test_refind_a_lost_track_with_the_detector() -> None:
    scene, project, run = _lost_scene()
    last = run.boxes[1][-1]
    assert last.flag_reason == REASON_END and last.frame < 45  # lost while hidden
    targets = refind_targets(project, run, scene.n_frames, ProposalConfig(), 0.5)
    assert targets and targets[0][:2] == (1, "lost")
    cfg = ProposalConfig(refind_horizon=40, refind_tries=8)
    found, cost = refind_lost(project, scene, OracleDetector(scene), run, cfg)
    assert cost.calls >= 1
    (r,) = found
    assert r.track_id == 1 and r.frame >= 45 and r.why == "lost"
    assert r.xyxy.iou(BoxXYXY.from_array(scene.truth(1, r.frame))) > 0.99
    assert r.appearance > 0.9  # the same texture as the keyframe
    install_refound(project, found)
    b = project.box(1, r.frame)
    assert b is not None and b.flagged and b.flag_reason == REASON_REFOUND
    assert any(it.reason == REASON_REFOUND for it in review_items(project))


def test_refind_ignores_a_different_looking_object_at_the_predicted_place() -> None:
    scene = ArraySource(
        [
            MovingObject((40, 80, 80, 140), (2.0, 0.0), seed=3, visible=(0, 29)),
            MovingObject((40, 80, 80, 140), (2.0, 0.0), seed=9, visible=(45, 10**9)),  # another
        ],
        n=80,
    )
    project = _project(scene)
    add_track(project, 0, BoxXYXY.from_array(scene.truth(0, 0)))
    run = track_project(project, scene, TrackerConfig(tracker="cascade", max_coast_frames=5))
    apply_run(project, run)
    cfg = ProposalConfig(refind_horizon=40, refind_tries=8)
    found, _ = refind_lost(project, scene, OracleDetector(scene), run, cfg)
    assert found == []


def test_refind_targets_low_confidence_stretches() -> None:
    project = Project(MediaRef("m", 100, 320, 240))
    with project.edit("t") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY(0, 0, 10, 10)))
    xy = BoxXYXY(0, 0, 10, 10)
    boxes = [
        FrameBox(f, xy, BoxSource.TRACKED, 0.2 if 20 <= f < 32 else 0.9, flagged=20 <= f < 32)
        for f in range(1, 100)
    ]
    run = TrackingRun(boxes={1: boxes}, spans={1: (0, 99)})
    got = refind_targets(project, run, 100, ProposalConfig(low_conf_frames=10), 0.5)
    assert got == [(1, "low confidence", [26])]
    assert refind_targets(project, run, 100, ProposalConfig(low_conf_frames=13), 0.5) == []


@pytest.mark.parametrize(
    ("engine_ms", "det_ms", "expected", "reason"),
    [
        (10.0, 30.0, 30, "30 ms / (0.5 * 0.2 * 10 ms): half the budget for the schedule"),
        (100.0, 30.0, 5, "clamped to min_every on a heavy run"),
        (0.1, 30.0, 250, "clamped to max_every on a trivial run"),
        (0.0, 30.0, 250, "no engine cost measured: as sparse as allowed"),
    ],
)
def test_choose_interval_keeps_the_detector_within_budget(
    engine_ms: float, det_ms: float, expected: int, reason: str
) -> None:
    assert choose_interval(engine_ms, det_ms) == expected, reason
    assert choose_interval(engine_ms, det_ms, ProposalConfig(every=7)) == 7


def test_proposal_config_ranges() -> None:
    with pytest.raises(ConfigError, match="every"):
        ProposalConfig(every=0)
    with pytest.raises(ConfigError, match="min_score"):
        ProposalConfig(min_score=2.0)


def test_add_proposals_is_one_undo_step_and_adds_labels() -> None:
    project = Project(MediaRef("m", 10, 320, 240))
    props = [
        Proposal(3, BoxXYXY(1, 1, 20, 30), 0.8, "car"),
        Proposal(3, BoxXYXY(40, 1, 60, 30), 0.7, "person"),
    ]
    ids = add_proposals(project, props)
    assert {project.track(t).label for t in ids} == {"car", "person"}
    project.history.undo()
    assert not project.tracks and "car" not in project.labels


def test_split_budget_shares_the_calls_between_refind_schedule_and_walk_back() -> None:
    # 20% of a 1 s run buys 200 ms = 10 calls of 20 ms: 5 re-find, 2 schedule (+2 walk back)
    assert split_budget(100, 1.0, 20.0) == (5, 50)
    assert split_budget(100, 0.0, 20.0) == (1, 100)  # no cost measured: the minimum
    assert split_budget(100, 1.0, 20.0, ProposalConfig(every=7)) == (5, 7)


def test_refind_stops_at_its_call_budget() -> None:
    scene, project, run = _lost_scene()
    cfg = ProposalConfig(refind_horizon=40, refind_tries=8)
    det = OracleDetector(scene)
    found, cost = refind_lost(project, scene, det, run, cfg, max_calls=1)
    assert cost.calls == 1 and found == []  # the first look is too early: still hidden


def test_detector_feed_runs_on_asked_frames_within_its_budget() -> None:
    from tracker_annotate.tracking.assoc import detections_at
    from tracker_annotate.tracking.proposals import DetectorFeed

    scene = _scene()
    det = OracleDetector(scene)
    feed = DetectorFeed(scene, det, max_calls=2)
    xyxy, scores = detections_at(feed, 40)  # the engine's own reader accepts it
    assert len(xyxy) == 2 and (scores == 0.9).all()
    detections_at(feed, 40)  # cached: free
    detections_at(feed, 41)
    assert len(detections_at(feed, 42)[0]) == 0  # budget spent
    assert det.calls == [40, 41] and feed.cost.calls == 2
