"""Cost accounting of the four strategies on sequences whose answer is known by hand.

The engine-driven strategies use :class:`GroundTruthEngineDouble`, a TEST DOUBLE that
cheats on purpose: it reads the ground truth to play "a perfect tracker" (optionally with
chosen wrong or flagged boxes), so the accounting can be checked exactly. The real engine's
runs are in ``test_bench_engine.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from bench_helpers import moving, static
from conftest import MakeSequence

from tracker_annotate.bench.costs import ActionCounts, CostModel
from tracker_annotate.bench.sequences import GroundTruthSequence, load_mot_sequence
from tracker_annotate.bench.strategies import (
    run_interpolation,
    run_per_frame,
    run_tracker_flagged,
    run_tracker_oracle,
)
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun

COSTS = CostModel()
CFG = TrackerConfig()


@dataclass
class GroundTruthEngineDouble:
    """TEST DOUBLE: returns GT boxes (a perfect tracker) on GT frames from a track's first
    keyframe to its end (the GT end, or its last keyframe when ``extend`` is off), except
    ``shift[(gt_id, frame)]`` pixels to the right and ``flag`` boxes, which are flagged."""

    gt: GroundTruthSequence
    shift: dict[tuple[int, int], float] = field(default_factory=dict)
    flag: set[tuple[int, int]] = field(default_factory=set)
    stop: dict[int, int] = field(default_factory=dict)
    stop_on_retrack: dict[int, int] = field(default_factory=dict)
    retracks: list[tuple[int, int]] = field(default_factory=list)

    def _run(self, project: Project, config: TrackerConfig, tids: list[int]) -> TrackingRun:
        run = TrackingRun()
        for tid in tids:
            gid = int(project.track(tid).name.removeprefix("gt"))
            t = self.gt.tracks[gid]
            boxes = project.boxes(tid)
            keys = project.keyframes(tid)
            visible_keys = [f for f in keys if not boxes[f].outside]
            end = t.last if config.extend else visible_keys[-1]
            end = min(end, self.stop.get(gid, end))
            out = []
            for i, f in enumerate(t.frames.tolist()):
                if keys[0] <= f <= end and f not in keys:
                    xyxy = BoxXYXY.from_array(t.xyxy[i]).translated(
                        self.shift.get((gid, f), 0.0), 0.0
                    )
                    flagged = (gid, f) in self.flag
                    out.append(
                        FrameBox(f, xyxy, BoxSource.TRACKED, 0.2 if flagged else 0.9, flagged)
                    )
            run.boxes[tid] = out
            run.spans[tid] = (keys[0], self.gt.n_frames - 1)
        return run

    def track_project(
        self, project: Project, source: object, config: TrackerConfig, *, track_ids: object = None
    ) -> TrackingRun:
        return self._run(project, config, sorted(project.tracks))

    def retrack_after_edit(
        self, project: Project, source: object, config: TrackerConfig, track_id: int, frame: int
    ) -> TrackingRun:
        self.retracks.append((track_id, frame))
        gid = int(project.track(track_id).name.removeprefix("gt"))
        self.shift = {k: v for k, v in self.shift.items() if k[0] != gid or k[1] < frame}
        self.stop.pop(gid, None)
        if self.stop_on_retrack.get(gid, 0) > 0:
            self.stop_on_retrack[gid] -= 1
            self.stop[gid] = frame
        return self._run(project, config, [track_id])


# -- per_frame and interpolation -------------------------------------------------------------


def test_per_frame_draws_every_box(make_sequence: MakeSequence) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(10)), 2: static(range(3, 5))}, 10))
    r = run_per_frame(gt, 0.7)
    assert r.counts == ActionCounts(draws=12)
    assert r.counts.seconds(COSTS) == pytest.approx(12 * 7.0)
    assert r.quality.mean_iou == 1.0


def _vee(frames: range, apex: int) -> list[tuple[int, float, float, float, float]]:
    """Out and back: right 1 px per frame until ``apex``, then left again (30 px wide, so
    the apex is the unique worst frame of a first-to-last interpolation)."""
    return [(f, 10 + min(f, 2 * apex - f) - frames[0], 30, 30, 40) for f in frames]


@pytest.mark.parametrize(
    ("rows", "keyframes"),
    [
        ({1: static(range(50))}, 2),  # a static object: first and last frame only
        ({1: moving(range(40), 5, 5, 2.0, 1.0)}, 2),  # constant velocity is linear
        ({1: static(range(7, 8))}, 1),  # a one-frame track is one drawing
        ({1: _vee(range(21), 10)}, 3),  # out and back: the apex, then both halves are linear
        ({1: static(range(30)), 2: _vee(range(5, 26), 15)}, 5),  # tracks add up independently
    ],
)
def test_interpolation_keyframes_known_by_hand(
    make_sequence: MakeSequence, rows: dict, keyframes: int
) -> None:
    gt = load_mot_sequence(make_sequence(rows, 60))
    r = run_interpolation(gt, 0.7)
    assert r.counts.manual_boxes == keyframes
    assert r.counts.watched == gt.n_boxes
    assert r.counts.seconds(COSTS) == pytest.approx(keyframes * 7.0 + gt.n_boxes * 0.2)
    assert r.quality.below_tau == 0
    assert r.quality.unseen_below_half == 0  # everything was watched


@pytest.mark.parametrize(
    ("tau", "keyframes"),
    [
        (0.7, 3),  # the apex is 10 px off on a 30 px box: IoU 20/40 = 0.5 < 0.7
        (0.5, 2),  # IoU 0.5 is accepted at tau 0.5 (>= tau passes)
        (0.45, 2),  # looser still: first and last frame suffice
    ],
)
def test_interpolation_stops_at_tau(
    make_sequence: MakeSequence, tau: float, keyframes: int
) -> None:
    gt = load_mot_sequence(make_sequence({1: _vee(range(21), 10)}, 21))
    assert run_interpolation(gt, tau).counts.manual_boxes == keyframes


# -- tracker strategies with the ground-truth double -----------------------------------------


def test_perfect_tracker_without_flags_costs_one_draw_and_one_end_mark_per_track(
    make_sequence: MakeSequence,
) -> None:
    # track 1 leaves at frame 20 (an outside box goes on 20); track 2 lasts to the video end
    gt = load_mot_sequence(make_sequence({1: static(range(20)), 2: static(range(5, 30))}, 30))
    r = run_tracker_flagged(gt, GroundTruthEngineDouble(gt), None, CFG, 0.7)
    assert r.counts == ActionCounts(draws=2, end_marks=2)
    assert r.counts.seconds(COSTS) == pytest.approx(2 * 7.0 + 2 * 1.6)
    assert r.quality.mean_iou == 1.0
    assert (r.quality.missing, r.quality.extra, r.quality.unseen_below_half) == (0, 0, 0)
    assert (r.flag_precision, r.flag_recall) == (None, None)  # nothing flagged, nothing bad


def test_flagged_good_boxes_are_verified_bad_ones_corrected_and_retracked(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(40))}, 40))
    double = GroundTruthEngineDouble(
        gt,
        shift={(1, 10): 20.0, (1, 11): 20.0, (1, 30): 20.0},  # IoU 1/5 on 30x40 boxes
        flag={(1, 5), (1, 6), (1, 10)},
    )
    r = run_tracker_flagged(gt, double, None, CFG, 0.7)
    # frames 5, 6 verified; 10 corrected (re-track fixes 11 and 30 in this double)
    assert r.counts == ActionCounts(draws=1, corrections=1, verifications=2, end_marks=1)
    assert double.retracks == [(1, 10)]
    assert r.counts.seconds(COSTS) == pytest.approx(7.0 + 7.0 + 2 * 1.6 + 1.6)
    assert r.quality.unseen_below_half == 0
    # first propagation: flags {5, 6, 10}, bad {10, 11, 30}
    assert r.flag_precision == pytest.approx(1 / 3)
    assert r.flag_recall == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("shift_px", "below_half", "below_tau"),
    [
        (20.0, 2, 2),  # IoU 0.2: wrong by any standard
        (6.0, 0, 2),  # IoU 0.667: fine at 0.5, not at tau 0.7
        (2.0, 0, 0),  # IoU 0.875: acceptable
    ],
)
def test_unflagged_errors_are_residual(
    make_sequence: MakeSequence, shift_px: float, below_half: int, below_tau: int
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(50))}, 60))
    double = GroundTruthEngineDouble(gt, shift={(1, 20): shift_px, (1, 21): shift_px})
    r = run_tracker_flagged(gt, double, None, CFG, 0.7)
    assert r.counts == ActionCounts(draws=1, end_marks=1)  # nobody looked at them
    d = r.to_dict(COSTS)
    assert d["residual_errors"] == below_half
    assert d["residual_errors_tau"] == below_tau
    assert d["residual_error_rate"] == pytest.approx(below_half / 50)
    assert d["flag_recall"] == (0.0 if below_tau else None)


def test_end_mark_writes_outside_box_only_when_a_frame_follows(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(10)), 2: static(range(20))}, 20))
    from tracker_annotate.bench.annotator import SimulatedAnnotator

    ann = SimulatedAnnotator(gt)
    for gid in (1, 2):
        ann.draw(gid, 0)
    assert ann.mark_end(1) is True
    assert ann.mark_end(2) is False  # visible until the last frame: nothing to write
    box = ann.project.box(ann.track_id(1), 10)
    assert box is not None and box.outside
    assert ann.project.boxes(ann.track_id(2)).keys() == {0}
    assert ann.counts.end_marks == 2


def test_oracle_with_a_perfect_tracker_needs_first_and_last_keyframes(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(
        make_sequence({1: _vee(range(30), 15), 2: moving(range(4, 25), 0, 0, 3, 2)}, 30)
    )
    r = run_tracker_oracle(gt, GroundTruthEngineDouble(gt), None, CFG, 0.7)
    assert r.counts == ActionCounts(draws=4, watched=gt.n_boxes)
    assert r.counts.seconds(COSTS) == pytest.approx(4 * 7.0 + gt.n_boxes * 0.2)


def test_oracle_keyframes_the_worst_box_and_retracks(make_sequence: MakeSequence) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(30))}, 30))
    double = GroundTruthEngineDouble(gt, shift={(1, 12): 20.0, (1, 13): 25.0})
    r = run_tracker_oracle(gt, double, None, CFG, 0.7)
    # worst is frame 13 (IoU 1/7); re-tracking from it (this double) does not fix frame 12,
    # which comes before: it needs its own keyframe
    assert double.retracks == [(1, 13), (1, 12)]
    assert r.counts.manual_boxes == 4
    assert r.quality.below_tau == 0


def test_object_that_leaves_and_returns_gets_an_end_mark_per_visible_run(
    make_sequence: MakeSequence,
) -> None:
    # visible on frames 0-9 and 20-29 of 40
    gt = load_mot_sequence(make_sequence({1: static(range(10)) + static(range(20, 30))}, 40))
    interp = run_interpolation(gt, 0.7)
    assert interp.counts == ActionCounts(draws=4, end_marks=1, watched=20)  # 0, 9, 20, 29
    assert (interp.quality.extra, interp.quality.missing) == (0, 0)  # no box in the gap
    flagged = run_tracker_flagged(gt, GroundTruthEngineDouble(gt), None, CFG, 0.7)
    assert flagged.counts == ActionCounts(draws=2, end_marks=2)
    assert flagged.counts.seconds(COSTS) == pytest.approx(2 * 7.0 + 2 * 1.6)


def test_flagged_track_end_that_is_wrong_is_continued(make_sequence: MakeSequence) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(30))}, 40))
    double = GroundTruthEngineDouble(gt, stop={1: 10}, flag={(1, 10)})
    r = run_tracker_flagged(gt, double, None, CFG, 0.7)
    # frame 10 is right (verified) but the object goes on: draw frame 11, re-track from it
    assert r.counts == ActionCounts(draws=1, corrections=1, verifications=1, end_marks=1)
    assert double.retracks == [(1, 11)]
    assert r.quality.missing == 0


def test_unflagged_early_end_leaves_missing_boxes_as_residual_error(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(30))}, 40))
    r = run_tracker_flagged(gt, GroundTruthEngineDouble(gt, stop={1: 10}), None, CFG, 0.7)
    assert r.counts == ActionCounts(draws=1, end_marks=1)
    assert r.quality.missing == 19  # frames 11..29
    assert r.to_dict(COSTS)["residual_error_rate"] == pytest.approx(19 / 30)


def test_track_lost_right_after_a_correction_is_continued_frame_by_frame(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(30))}, 40))
    double = GroundTruthEngineDouble(
        gt, shift={(1, 10): 20.0}, flag={(1, 10)}, stop_on_retrack={1: 2}
    )
    r = run_tracker_flagged(gt, double, None, CFG, 0.7)
    # correct 10; re-tracking loses it at once twice: draw 11, then 12; then it goes on
    assert double.retracks == [(1, 10), (1, 11), (1, 12)]
    assert r.counts == ActionCounts(draws=1, corrections=3, end_marks=1)
    assert (r.quality.missing, r.quality.below_tau) == (0, 0)
