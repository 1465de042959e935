"""Fusion between two keyframes: pinned to both, never worse than the straight line."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.tracking.calibration import FEATURES
from tracker_annotate.tracking.fusion import REASON_LINE, fuse_segment, iou
from tracker_annotate.tracking.params import FusionParams
from tracker_annotate.tracking.passes import StepSignals

RAW = FusionParams(line_noise_floor=-1.0)  # the fusion without the shrinkage to the line


def _sig(f: int, xyxy: np.ndarray, *, lk: float = 0.9, app: float = 0.8) -> StepSignals:
    return StepSignals(
        frame=f,
        xyxy=np.asarray(xyxy, dtype=np.float64),
        app=app,
        app_recent=app,
        quality=0.8,
        coasted=0,
        maha=0.1,
        vis=1.0,
        method="nano",
        lk_iou=lk,
        pred_iou=0.9,
    )


def _curve(f: int) -> np.ndarray:
    """A box on a parabola: the straight line between frames 0 and 40 misses it mid-way."""
    cx = 100.0 + 4.0 * f
    cy = 120.0 + 0.12 * (f - 20.0) ** 2 - 48.0
    return np.array([cx - 15, cy - 15, cx + 15, cy + 15])


A, B = 0, 40


def test_a_pass_that_reached_the_far_keyframe_is_pinned_to_both() -> None:
    """Forward drifts linearly (0.1 px/frame): its error at b is spread back, so it is exact."""
    drift = np.array([0.5, 0.25, 0.5, 0.25])
    fwd = {f: _sig(f, _curve(f) + drift * (f - A) * 0.2) for f in range(A + 1, B + 1)}
    assert iou(fwd[B].xyxy, _curve(B)) >= 0.5  # it reached b
    out = fuse_segment(A, _curve(A), B, _curve(B), fwd, {}, RAW)
    assert [b.frame for b in out] == list(range(A + 1, B))
    for b in out:
        np.testing.assert_allclose(b.xyxy, _curve(b.frame), atol=1e-9)


def test_both_passes_right_beat_the_line_on_a_curve() -> None:
    fwd = {f: _sig(f, _curve(f)) for f in range(A + 1, B + 1)}
    bwd = {f: _sig(f, _curve(f)) for f in range(A, B)}
    out = fuse_segment(A, _curve(A), B, _curve(B), fwd, bwd, RAW)
    line = {f: _curve(A) + (f - A) / (B - A) * (_curve(B) - _curve(A)) for f in range(A, B)}
    fused = [iou(b.xyxy, _curve(b.frame)) for b in out]
    straight = [iou(line[b.frame], _curve(b.frame)) for b in out]
    assert min(fused) > 0.99
    assert np.mean(straight) < 0.6  # the line really is wrong here
    assert all(b.source == "both" for b in out)
    # Agreement of both passes is evidence: its fb_iou feature is high.
    assert all(b.features[FEATURES.index("fb_iou")] > 0.99 for b in out)


@pytest.mark.parametrize("lk", [0.1, 0.9], ids=["committee-doubts", "committee-trusts"])
def test_drifting_passes_never_beat_by_the_line(lk: float) -> None:
    """The object moves in a straight line; both visual passes drift onto a look-alike
    that walks away (neither reaches the far keyframe). The fusion is never worse than the
    straight line by more than the passes' agreement near their own keyframes allows."""

    def truth(f: int) -> np.ndarray:
        return np.array([50.0 + 3 * f, 80.0, 90.0 + 3 * f, 120.0])

    def away(f: int, k: int) -> np.ndarray:  # drifting after k frames from the seed
        d = max(0, k - 5) * 6.0
        return truth(f) + np.array([0.0, d, 0.0, d])

    fwd = {f: _sig(f, away(f, f - A), lk=lk) for f in range(A + 1, B + 1)}
    bwd = {f: _sig(f, away(f, B - f), lk=lk) for f in range(A, B)}
    out = fuse_segment(A, truth(A), B, truth(B), fwd, bwd)
    line = [
        iou(truth(A) + (b.frame - A) / (B - A) * (truth(B) - truth(A)), truth(b.frame)) for b in out
    ]
    got = [iou(b.xyxy, truth(b.frame)) for b in out]
    assert min(line) > 0.999  # the straight line is exact here
    assert all(g >= 0.999 for g in got), [round(g, 2) for g in got]
    # where the line won, the reason says so, and the evidence says no pass reached b
    mid = out[len(out) // 2]
    assert mid.source == "line"
    assert mid.reason == REASON_LINE
    assert mid.features[FEATURES.index("reach")] < 0.5


def test_a_pass_that_stopped_early_leaves_the_rest_to_the_other() -> None:
    fwd = {f: _sig(f, _curve(f)) for f in range(A + 1, 10)}  # lost after frame 9
    bwd = {f: _sig(f, _curve(f)) for f in range(A, B)}
    out = fuse_segment(A, _curve(A), B, _curve(B), fwd, bwd, RAW)
    assert len(out) == B - A - 1
    assert min(iou(b.xyxy, _curve(b.frame)) for b in out) > 0.99


def test_jitter_around_a_straight_walk_is_shrunk_onto_the_line() -> None:
    """Walking people move on near-straight lines; a Siamese tracker's box jitters around
    them. With both passes on the object, the shrinkage pulls the path onto the line."""

    def truth(f: int) -> np.ndarray:
        return np.array([50.0 + 2 * f, 80.0, 80.0 + 2 * f, 140.0])

    rng = np.random.default_rng(1)
    noise = {f: rng.normal(0, 2.5, 4) for f in range(A, B + 1)}
    fwd = {f: _sig(f, truth(f) + noise[f]) for f in range(A + 1, B + 1)}
    bwd = {f: _sig(f, truth(f) + noise[f] * 0.8) for f in range(A, B)}
    raw = fuse_segment(A, truth(A), B, truth(B), fwd, bwd, RAW)
    shrunk = fuse_segment(A, truth(A), B, truth(B), fwd, bwd)
    iou_raw = np.mean([iou(b.xyxy, truth(b.frame)) for b in raw])
    iou_shrunk = np.mean([iou(b.xyxy, truth(b.frame)) for b in shrunk])
    assert iou_shrunk > iou_raw + 0.01
    # the passes' own disagreement says they are noisy: the line takes a large share
    far = [b for b in shrunk if 5 <= b.frame <= 35]
    line_err = np.mean([np.abs(b.xyxy - truth(b.frame)).mean() for b in far])
    raw_err = np.mean([np.abs(b.xyxy - truth(b.frame)).mean() for b in raw if 5 <= b.frame <= 35])
    assert line_err < 0.85 * raw_err


def test_a_real_curve_is_not_shrunk_away() -> None:
    fwd = {f: _sig(f, _curve(f)) for f in range(A + 1, B + 1)}
    bwd = {f: _sig(f, _curve(f)) for f in range(A, B)}
    out = fuse_segment(A, _curve(A), B, _curve(B), fwd, bwd)
    assert min(iou(b.xyxy, _curve(b.frame)) for b in out) > 0.95
