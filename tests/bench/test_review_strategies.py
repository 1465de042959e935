"""Stretch pricing, the audit loop and guidance, with the ground-truth engine double
(TEST DOUBLE: a perfect tracker except chosen wrong or flagged boxes; see
``test_bench_strategies.py``), so the counts are known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_helpers import static
from conftest import MakeSequence
from test_bench_strategies import GroundTruthEngineDouble

from tracker_annotate.bench.costs import ActionCounts, CostModel
from tracker_annotate.bench.review_strategies import (
    AuditBenchConfig,
    run_tracker_audited,
    run_tracker_guided,
    run_tracker_stretch,
)
from tracker_annotate.bench.sequences import load_mot_sequence
from tracker_annotate.bench.strategies import run_tracker_flagged
from tracker_annotate.tracking.api import TrackerConfig

CFG = TrackerConfig()
COSTS = CostModel()


def test_a_good_stretch_is_watched_then_accepted_in_one_action(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(40))}, 40))
    flags = {(1, 5), (1, 6), (1, 7)}
    per_box = run_tracker_flagged(gt, GroundTruthEngineDouble(gt, flag=set(flags)), None, CFG, 0.7)
    r = run_tracker_stretch(gt, GroundTruthEngineDouble(gt, flag=set(flags)), None, CFG, 0.7)
    assert per_box.counts == ActionCounts(draws=1, verifications=3, end_marks=1)
    assert r.counts == ActionCounts(draws=1, verifications=1, end_marks=1, watched=3)
    assert r.counts.seconds(COSTS) == pytest.approx(7.0 + 1.6 + 1.6 + 3 * 0.2)
    assert r.quality.unseen_below_half == 0


def test_a_bad_stretch_gets_its_worst_box_corrected_and_is_watched_again(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(40))}, 40))
    double = GroundTruthEngineDouble(
        gt, shift={(1, 10): 20.0, (1, 11): 6.0}, flag={(1, 10), (1, 11), (1, 12)}
    )
    r = run_tracker_stretch(gt, double, None, CFG, 0.7)
    # watch 10-12, correct 10 (IoU 0.2, the worst) and re-track (fixes 11); watch 11-12
    # (still flagged by the double), accept them in one action
    assert double.retracks == [(1, 10)]
    assert r.counts == ActionCounts(draws=1, corrections=1, verifications=1, end_marks=1, watched=5)
    d = r.to_dict(COSTS)
    assert d["stretch_visits"] == 2 and d["flag_threshold"] == CFG.flag_threshold


def test_audited_meets_a_target_on_clean_boxes_with_coverage(make_sequence: MakeSequence) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(300)), 2: static(range(300))}, 300))
    cfg = AuditBenchConfig(target=0.01, curve_targets=(0.05,), seeds=20)
    r = run_tracker_audited(gt, GroundTruthEngineDouble(gt), None, CFG, 0.7, cfg=cfg)
    a = r.extra["audit"]
    assert a["met"] and len(a["rounds"]) == 1
    assert a["true_residual_at_last_round"] == 0.0 and a["interval"][0] == 0.0
    assert a["interval"][1] <= 0.01
    assert a["coverage"] == 1.0  # zero wrong: every interval holds the true 0
    n = a["rounds"][0]["samples"]
    assert r.extra["audit_checks"] == n == r.counts.verifications  # nothing was flagged
    d = r.to_dict(COSTS)
    assert d["audit_counts"]["seconds"] == pytest.approx(n * 1.6)
    assert d["curve"][0]["target"] == 0.05
    assert d["curve"][0]["seconds_counts"]["verifications"] < n  # a looser target is cheaper
    json.dumps(d)  # the report can hold it


def test_audited_flags_more_when_the_audit_finds_errors(make_sequence: MakeSequence) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(300)), 2: static(range(300))}, 300))
    shift = {(1, f): 20.0 for f in range(100, 300, 10)}  # 20 wrong, unflagged boxes
    double = GroundTruthEngineDouble(gt, shift=dict(shift))
    cfg = AuditBenchConfig(target=0.01, curve_targets=(), seeds=20)
    r = run_tracker_audited(gt, double, None, CFG, 0.7, cfg=cfg)
    a = r.extra["audit"]
    first = a["rounds"][0]
    assert first["true_residual"] == pytest.approx(20 / 600)
    assert first["wrong"] > 0 and first["interval"][1] > 0.01
    assert first["coverage_over_seeds"]["runs"] == 20
    assert len(a["rounds"]) >= 2 and a["met"]
    assert r.quality.unseen_below_half == 0  # the loop got them all in the end


def test_guided_follows_the_tools_suggestion_without_an_oracle(
    make_sequence: MakeSequence,
) -> None:
    gt = load_mot_sequence(make_sequence({1: static(range(60))}, 60))
    double = GroundTruthEngineDouble(gt, shift={(1, 1): 20.0})
    cfg = AuditBenchConfig(target=0.01, max_steps=3)
    r = run_tracker_guided(gt, double, None, CFG, 0.7, cfg=cfg)
    ex = r.extra
    # every box has the same confidence: the suggestion is the span's first frame, 1, which
    # is wrong (corrected); then frames 2 and 3 are right (accepted); each re-tracks
    assert (ex["guided_steps"], ex["guided_corrected"], ex["guided_accepted"]) == (3, 1, 2)
    assert double.retracks == [(1, 1), (1, 2), (1, 3)]
    assert r.counts.manual_boxes == 2  # the first box and one correction
    assert ex["predicted_residual_when_stopped"] > 0.01  # stopped by max_steps


def test_report_carries_audit_coverage_and_budget_curves(
    make_sequence: MakeSequence, tmp_path: Path
) -> None:
    from tracker_annotate.bench.render import write_report
    from tracker_annotate.bench.report import build_results
    from tracker_annotate.bench.runner import BenchConfig
    from tracker_annotate.bench.strategies import run_interpolation, run_per_frame

    gt = load_mot_sequence(make_sequence({1: static(range(300)), 2: static(range(300))}, 300))
    shift = {(1, f): 20.0 for f in range(100, 300, 10)}
    audit_cfg = AuditBenchConfig(curve_targets=(0.05,))
    rows = [
        run_per_frame(gt, 0.7),
        run_interpolation(gt, 0.7),
        run_tracker_stretch(gt, GroundTruthEngineDouble(gt, shift=dict(shift)), None, CFG, 0.7),
        run_tracker_audited(
            gt, GroundTruthEngineDouble(gt, shift=dict(shift)), None, CFG, 0.7, cfg=audit_cfg
        ),
        run_tracker_guided(
            gt, GroundTruthEngineDouble(gt, shift=dict(shift)), None, CFG, 0.7, cfg=audit_cfg
        ),
    ]
    cfg = BenchConfig(taus=(0.7,), strategies=tuple(r.strategy for r in rows), audit=audit_cfg)
    res = build_results(rows, cfg, command="test", wall_seconds=1.0)
    a = res["audit"]
    assert a["sequences"] == 1 and a["met_sequences"] == 1
    assert a["coverage_runs"] >= 20 and a["coverage_fixed_n_runs"] >= 20
    first = a["per_sequence"][gt.name]["first_round"]
    assert first["true_residual"] == pytest.approx(20 / 600)
    curves = res["budget_curves"]
    assert [p["value"] for p in curves["tracker_audited (target)"]] == [0.01, 0.05]
    assert {"per_frame", "interpolation", "tracker_guided"} <= set(curves)
    names = [t["target"] for t in res["targets"]]
    assert any("coverage >= 90%" in n for n in names)
    assert any("tracker_guided manual boxes" in n for n in names)
    report = write_report(json.loads(json.dumps(res)), tmp_path)
    text = report.read_text()
    assert "## Audit (tracker_audited, target 1%)" in text and "## Budget curves" in text
    assert (tmp_path / "budget_curves.png").stat().st_size > 1000
