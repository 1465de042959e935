"""Unit behaviour of the engine's parts on constructed cases: Kalman, gating, matching,
conflicts, proposals and forward/backward blending."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.core.detections import Detections
from tracker_annotate.tracking.assoc import (
    build_proposals,
    detections_at,
    find_conflicts,
    match_detections,
)
from tracker_annotate.tracking.confidence import REASON_DISAGREE, blend_pair, step_confidence
from tracker_annotate.tracking.kalman import BoxKalman
from tracker_annotate.tracking.passes import StepSignals


def _sig(frame: int, xyxy: list[float], app: float = 0.9, coasted: int = 0) -> StepSignals:
    return StepSignals(frame, np.array(xyxy, float), app, app, 0.9, coasted, 0.0, 1.0, "lk")


def test_kalman_learns_constant_velocity_and_coasts_along_it() -> None:
    kf = BoxKalman([0, 0, 20, 20])
    for f in range(1, 20):
        kf.predict()
        kf.update([3 * f, 0, 3 * f + 20, 20])
    assert kf.velocity[0] == pytest.approx(3.0, abs=0.2)
    before = kf.cxcywh[0]
    for _ in range(5):  # occlusion: no measurements
        kf.predict()
    assert kf.cxcywh[0] - before == pytest.approx(15.0, abs=1.5)
    assert kf.coasted == 5


def test_kalman_smooths_jitter() -> None:
    rng = np.random.default_rng(3)
    kf = BoxKalman([100, 100, 140, 140])
    errs_raw, errs_kf = [], []
    for _ in range(60):
        kf.predict()
        noisy = np.array([100, 100, 140, 140]) + rng.normal(0, 2.0, 4)
        out = kf.update(noisy, quality=0.5)
        errs_raw.append(abs(noisy - [100, 100, 140, 140]).mean())
        errs_kf.append(abs(out - [100, 100, 140, 140]).mean())
    assert np.mean(errs_kf[10:]) < 0.8 * np.mean(errs_raw[10:])


@pytest.mark.parametrize(
    ("measured", "plausible"),
    [
        ([101, 100, 141, 140], True),  # one pixel off the prediction
        ([104, 102, 145, 141], True),  # a few pixels: ordinary motion
        ([300, 100, 340, 140], False),  # jumped 200 px: another object
        ([100, 100, 240, 240], False),  # tripled in size in one frame
    ],
)
def test_gate_rejects_implausible_measurements(measured: list[float], plausible: bool) -> None:
    kf = BoxKalman([100, 100, 140, 140])
    for _ in range(5):
        kf.predict()
        kf.update([100, 100, 140, 140])
    kf.predict()
    assert kf.gate(measured) is plausible


def test_two_tracks_on_one_object_flags_the_one_that_looks_less_like_itself() -> None:
    boxes = np.array([[10, 10, 50, 50], [12, 11, 51, 52], [200, 200, 240, 240]], float)
    # track 2 (index 1) matches its keyframes worse: it is the impostor
    assert find_conflicts(boxes, [1, 2, 3], [0.9, 0.4, 0.8]) == {1}
    assert find_conflicts(boxes, [1, 2, 3], [0.3, 0.8, 0.8]) == {0}
    # the same track's forward passes never conflict with each other
    assert find_conflicts(boxes[:2], [1, 1], [0.9, 0.4]) == set()


def test_hungarian_matching_prefers_the_global_optimum() -> None:
    tracks = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], float)
    dets = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], float)
    # greedy on track 0 would take det 0 (IoU .33) only if det 1 were absent; optimum pairs 0-1, 1-0
    assert sorted(match_detections(tracks, dets, 0.3)) == [(0, 1), (1, 0)]
    assert match_detections(tracks, np.zeros((0, 4)), 0.3) == []


def _dets(rows: list[tuple[int, list[float], float]]) -> Detections:
    return Detections(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows], float),
        np.array([r[2] for r in rows]),
        np.zeros(len(rows), np.int64),
    )


def test_detections_reader_accepts_the_container_and_any_detection_source() -> None:
    d = _dets([(0, [0, 0, 5, 5], 0.9), (1, [1, 1, 6, 6], 0.8), (1, [9, 9, 19, 19], 0.7)])
    xyxy, scores = detections_at(d, 1)
    assert xyxy.shape == (2, 4) and scores.tolist() == [0.8, 0.7]

    class OnDemand:  # a DetectionSource: at_frame(f) gives that frame's Detections
        def at_frame(self, f: int) -> Detections:
            return _dets([(f, [0, 0, 4, 4], 0.5), (f, [3, 3, 8, 9], 0.9)])

    xyxy, scores = detections_at(OnDemand(), 7)
    assert xyxy.tolist() == [[0, 0, 4, 4], [3, 3, 8, 9]] and scores.tolist() == [0.5, 0.9]
    assert detections_at(None, 7)[0].shape == (0, 4)


def test_unexplained_persistent_confident_detections_become_proposals() -> None:
    rows = []
    for f in range(6):
        rows.append((f, [100 + 2 * f, 50, 140 + 2 * f, 90], 0.9))  # new object, persists
        rows.append((f, [10, 10, 40, 40], 0.95))  # explained by an existing track
    rows.append((2, [300, 300, 320, 320], 0.9))  # one-frame blip: not a track
    rows.append((3, [200, 10, 230, 40], 0.2))  # weak detections are ignored
    rows.append((4, [200, 10, 230, 40], 0.2))
    rows.append((5, [200, 10, 230, 40], 0.2))
    occupied = {f: [np.array([10.0, 10, 40, 40])] for f in range(6)}
    props = build_proposals(_dets(rows), 6, occupied, min_score=0.6, min_iou=0.3)
    assert len(props) == 1
    assert [b.frame for b in props[0]] == list(range(6))
    assert props[0][0].source.value == "imported"


def test_blend_weights_each_pass_by_closeness_to_its_keyframe() -> None:
    fwd = _sig(5, [0, 0, 20, 20])
    bwd = _sig(5, [4, 0, 24, 20])
    near_first = blend_pair(fwd, bwd, 0.1)
    near_last = blend_pair(fwd, bwd, 0.9)
    assert near_first is not None and near_last is not None
    assert near_first[0][0] < 1.0 < 3.0 < near_last[0][0]
    # agreement of two independent passes raises the confidence above either alone
    assert near_first[1] > step_confidence(fwd)[0] - 1e-9
    assert not near_first[3]


def test_blend_flags_disagreeing_passes_and_keeps_one_box_whole() -> None:
    fwd = _sig(5, [0, 0, 20, 20], app=0.9)
    bwd = _sig(5, [100, 0, 120, 20], app=0.3)
    got = blend_pair(fwd, bwd, 0.5)
    assert got is not None
    xyxy, conf, reason, disagree = got
    assert disagree and reason == REASON_DISAGREE
    assert xyxy.tolist() == [0, 0, 20, 20]  # the trusted pass, not an average of two objects
    assert conf < 0.5


def test_confidence_drops_with_coasting_and_leaving_the_image() -> None:
    good = step_confidence(_sig(1, [0, 0, 10, 10]))[0]
    coast = step_confidence(_sig(1, [0, 0, 10, 10], coasted=6))
    assert coast[0] < good and coast[1] == "possible occlusion"
    s = _sig(1, [0, 0, 10, 10])
    s.vis = 0.3
    left = step_confidence(s)
    assert left[0] < 0.2 and left[1] == "left the frame?"
