"""``tracker_adaptive``: the flagged review whose verdicts recalibrate the confidence, with
the ground-truth engine double (TEST DOUBLE, see ``test_bench_strategies.py``): every
unflagged box at 0.9, flagged ones at 0.2, wrong ones where the double shifts them."""

from __future__ import annotations

import json

import pytest
from bench_helpers import static
from conftest import MakeSequence
from test_bench_strategies import GroundTruthEngineDouble

from tracker_annotate.bench.adaptive import run_tracker_adaptive
from tracker_annotate.bench.costs import CostModel
from tracker_annotate.bench.sequences import load_mot_sequence
from tracker_annotate.bench.strategies import run_tracker_flagged
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun

CFG = TrackerConfig()


class IndependentErrorsDouble(GroundTruthEngineDouble):
    """TEST DOUBLE: like the ground-truth double, but a re-track fixes nothing else (each
    box is wrong or right on its own), so the boxes left unreviewed are the population
    the labels came from."""

    def retrack_after_edit(
        self, project: Project, source: object, config: TrackerConfig, track_id: int, frame: int
    ) -> TrackingRun:
        self.retracks.append((track_id, frame))
        return self._run(project, config, [track_id])


def test_adaptive_learns_only_from_what_it_showed_and_calibrates_the_rest(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(300)), 2: static(range(300))}, 300))
    # over-sure: 1 in 4 of the unflagged boxes at 0.9 is wrong; 30 flagged boxes, all right
    shift = {(g, f): 20.0 for g in (1, 2) for f in range(2, 300, 4)}
    flag = {(g, f) for g in (1, 2) for f in range(5, 300, 20)}

    def double() -> GroundTruthEngineDouble:
        return IndependentErrorsDouble(gt, shift=dict(shift), flag=set(flag))

    flagged = run_tracker_flagged(gt, double(), None, CFG, 0.7)
    r = run_tracker_adaptive(gt, double(), None, CFG, 0.7, probe=20, seed=1, target=None)
    rec = r.extra["recalibration"]
    assert rec["probe_samples"] == 20 and rec["probe_wrong"] > 0
    assert rec["labels"] >= 30 + 20 and rec["labels_other"] == 0
    assert rec["runs"] >= 1 and rec["confident_range"][3] == pytest.approx(0.9)
    cal = rec["unreviewed"]
    assert cal["mean_confidence_after"] < cal["mean_confidence_before"] == pytest.approx(0.9)
    assert cal["ece_after"] < cal["ece_before"]
    # the probe's wrong boxes were corrected: fewer wrong boxes left unseen
    assert r.quality.unseen_below_half < flagged.quality.unseen_below_half
    json.dumps(r.to_dict(CostModel()))


def test_flags_only_do_not_touch_the_confident_boxes(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(300))}, 300))
    shift = {(1, f): 20.0 for f in range(2, 300, 4)}
    flag = {(1, f) for f in range(5, 300, 20)}
    double = GroundTruthEngineDouble(gt, shift=dict(shift), flag=set(flag))
    r = run_tracker_adaptive(gt, double, None, CFG, 0.7, probe=0, target=None)
    rec = r.extra["recalibration"]
    # the flagged boxes (0.2) were all right: the map raises them, but 0.9 is beyond the
    # labels' range, so the confident boxes keep the engine's confidence and no flag moves
    assert rec["labels"] == len(flag) and rec["flags_added"] == rec["flags_lifted"] == 0
    cal = rec["unreviewed"]
    assert cal["mean_confidence_after"] == pytest.approx(cal["mean_confidence_before"])


def test_with_the_target_the_recalibrated_confidence_flags_what_it_needs(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(300))}, 300))
    shift = {(1, f): 20.0 for f in range(2, 300, 4)}
    flag = {(1, f) for f in range(5, 300, 20)}
    flagged = run_tracker_flagged(
        gt, IndependentErrorsDouble(gt, shift=dict(shift), flag=set(flag)), None, CFG, 0.7
    )
    r = run_tracker_adaptive(
        gt, IndependentErrorsDouble(gt, shift=dict(shift), flag=set(flag)), None, CFG, 0.7
    )
    rec = r.extra["recalibration"]
    assert rec["target"] == 0.01 and rec["flags_added"] > 0
    assert flagged.quality.unseen_below_half == 75  # every wrong box at 0.9 went unseen
    assert r.quality.unseen_below_half / 300 <= 0.02
