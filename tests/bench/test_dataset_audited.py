"""``tracker_audited`` as one dataset audit over the sequences of a run, with the
ground-truth engine double (TEST DOUBLE: a perfect tracker except chosen wrong boxes; see
``test_bench_strategies.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from bench_helpers import static
from conftest import MakeSequence
from test_bench_strategies import GroundTruthEngineDouble

from tracker_annotate.bench.costs import CostModel
from tracker_annotate.bench.dataset_audited import run_dataset_audited
from tracker_annotate.bench.report import build_results
from tracker_annotate.bench.review_strategies import AuditBenchConfig
from tracker_annotate.bench.runner import BenchConfig, Task, plan_tasks
from tracker_annotate.bench.sequences import GroundTruthSequence, load_mot_sequence
from tracker_annotate.bench.strategies import run_interpolation, run_per_frame
from tracker_annotate.tracking.api import TrackerConfig

CFG = TrackerConfig()
COSTS = CostModel()


def _two(make_sequence: MakeSequence) -> list[str]:
    rows = {1: static(range(300)), 2: static(range(300))}
    return [str(make_sequence(rows, 300)), str(make_sequence(rows, 300))]


def test_one_audit_covers_every_sequence(make_sequence: MakeSequence) -> None:
    paths = _two(make_sequence)
    cfg = AuditBenchConfig(target=0.01, seeds=20)
    rows = run_dataset_audited(
        paths, GroundTruthEngineDouble, CFG, 0.7, cfg=cfg, open_sources=False
    )
    assert [r.sequence for r in rows] == [load_mot_sequence(p).name for p in paths]
    ds = rows[0].extra["dataset_audit"]
    assert all(r.extra["dataset_audit"] is ds for r in rows)  # one audit, shared
    assert ds["met"] and ds["audit_rounds"] == 1 and ds["sequences"] == 2
    first = ds["rounds"][0]
    assert first["decision"] == "accept" and first["wrong"] == 0
    # one audit's samples, split over the sequences; each sample checked once, by the
    # annotator, and priced with the sequence that holds it
    checks = [r.extra["audit_checks"] for r in rows]
    assert sum(checks) == first["checked"] and all(c > 0 for c in checks)
    assert all(r.counts.verifications == c for r, c in zip(rows, checks, strict=True))
    cov = first["coverage_over_seeds"]
    assert cov["runs"] == 20 and cov["coverage"] == 1.0  # nothing wrong: 0 is always held
    json.dumps(rows[0].to_dict(COSTS))


def test_errors_in_one_sequence_make_the_dataset_flag_more(make_sequence: MakeSequence) -> None:
    paths = _two(make_sequence)
    shift = {(1, f): 20.0 for f in range(60, 300, 8)}  # 30 wrong, unflagged boxes in one

    def engine(gt: GroundTruthSequence) -> GroundTruthEngineDouble:
        bad = gt.name == load_mot_sequence(paths[1]).name
        return GroundTruthEngineDouble(gt, shift=dict(shift) if bad else {})

    cfg = AuditBenchConfig(target=0.01, seeds=20, max_rounds=3)
    rows = run_dataset_audited(paths, engine, CFG, 0.7, cfg=cfg, open_sources=False)
    ds = rows[0].extra["dataset_audit"]
    first = ds["rounds"][0]
    assert first["true_residual"] == 30 / 1200
    assert first["decision"] == "reject" and first["wrong"] > 0
    assert first["interval"][0] <= first["true_residual"] <= first["interval"][1]
    assert ds["met"] and len(ds["rounds"]) >= 2
    # flagged more, reviewed, audited again: what is left meets the target
    assert ds["rounds"][-1]["decision"] == "accept"
    assert ds["true_residual_at_last_round"] <= 0.01
    assert sum(r.quality.unseen_below_half for r in rows) < 30


def test_the_runner_plans_one_dataset_task_and_the_report_counts_it_once(
    make_sequence: MakeSequence,
) -> None:
    paths = _two(make_sequence)
    cfg = BenchConfig(
        taus=(0.7,),
        strategies=("per_frame", "interpolation", "tracker_audited"),
        audit=AuditBenchConfig(seeds=5),
    )
    gts = [load_mot_sequence(p) for p in paths]
    sizes = {p: g.n_boxes for p, g in zip(paths, gts, strict=True)}
    tasks = plan_tasks([Path(p) for p in paths], sizes, cfg)
    audited = [t for t in tasks if t.strategy == "tracker_audited"]
    assert len(audited) == 1 and audited[0].paths == tuple(paths)
    assert isinstance(audited[0], Task)
    rows = [run_per_frame(g, 0.7) for g in gts] + [run_interpolation(g, 0.7) for g in gts]
    rows += run_dataset_audited(
        paths, GroundTruthEngineDouble, CFG, 0.7, cfg=cfg.audit, open_sources=False
    )
    res = build_results(rows, cfg, command="test", wall_seconds=1.0)
    a = res["audit"]
    assert a["coverage_runs"] == 5  # the dataset's, not 5 per sequence
    assert a["dataset"]["sequences"] == 2
    names = [t["target"] for t in res["targets"]]
    assert any("one dataset audit" in n for n in names)
