"""``tracker_audited`` as one dataset audit over every sequence of a run.

Each sequence is labeled as in ``tracker_stretch`` (first box, end mark, Track all, the
flagged stretches reviewed). Then one audit (:mod:`tracker_annotate.core.dataset_audit`)
covers all their unseen boxes, to a target on the dataset's residual:

* a round is planned and drawn over all the projects (each keeps its share, as the app);
* the annotator checks the samples look by look, in the walk order the app's F follows.
  A sample's verdict is the annotator's standard ("wrong" = IoU < tau, or a box where the
  object is not): the ground truth is consulted only for boxes the tool showed. Outcomes
  are recorded first; boxes are verified, corrected and re-tracked once the round is
  decided, so every look measures the state that was drawn;
* after each look the sequential acceptance test decides: accept (done), reject (every
  project's flag threshold rises, the new flags get the stretch review, a new round is
  drawn) or check the next look.

The interval's coverage is measured at each round's state, without acting: ``seeds``
more rounds of the same plan are drawn, judged from ground truth and compared with the
true value of the estimand (wrong unseen boxes over visible boxes, over the dataset).
Costs (the annotator's seconds) stay with the sequence whose boxes were checked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

from tracker_annotate.bench.annotator import SimulatedAnnotator
from tracker_annotate.bench.costs import ActionCounts
from tracker_annotate.bench.review_strategies import AuditBenchConfig, _start, stretch_review
from tracker_annotate.bench.sequences import GroundTruthSequence, load_mot_sequence
from tracker_annotate.bench.strategies import (
    Engine,
    StrategyResult,
    _Driver,
    _flag_stats,
    engine_result,
)
from tracker_annotate.core import audit
from tracker_annotate.core import dataset_audit as da
from tracker_annotate.core.project import Project
from tracker_annotate.core.quality import AuditRound, AuditSample
from tracker_annotate.tracking.api import TrackerConfig


@dataclass
class _Seq:
    gt: GroundTruthSequence
    ann: SimulatedAnnotator
    driver: _Driver
    flags: tuple[float | None, float | None]
    audit_counts: ActionCounts


def _verdict(ann: SimulatedAnnotator, s: AuditSample, tau: float) -> AuditSample:
    gid = ann.gt_id_of(s.track_id)
    wrong = gid is not None and ann.is_wrong(gid, s.frame, tau)
    return replace(s, outcome="wrong" if wrong else "ok")


def _judged(seqs: list[_Seq], rounds: list[AuditRound], tau: float) -> list[AuditRound]:
    return [
        replace(r, samples=tuple(_verdict(q.ann, s, tau) for s in r.samples))
        for q, r in zip(seqs, rounds, strict=True)
    ]


def true_residual(seqs: list[_Seq], tau: float) -> float:
    """The estimand from ground truth: wrong unseen boxes over visible boxes, pooled."""
    wrong = visible = 0
    for q in seqs:
        for tid, f, _ in audit.unseen_boxes(q.ann.project):
            gid = q.ann.gt_id_of(tid)
            wrong += gid is not None and q.ann.is_wrong(gid, f, tau)
        visible += audit.n_visible(q.ann.project)
    return wrong / max(1, visible)


def coverage(
    seqs: list[_Seq],
    plan: da.DatasetPlan,
    target: float,
    tau: float,
    *,
    seeds: range,
    acc: da.AcceptancePlan,
) -> dict[str, Any]:
    """Over ``seeds`` rounds of ``plan`` judged from ground truth: how often the final
    look's 95% interval holds the truth, and what the acceptance test decides."""
    truth = true_residual(seqs, tau)
    projects = [q.ann.project for q in seqs]
    visible = sum(audit.n_visible(p) for p in projects)
    hits = runs = accepted = 0
    checks = 0
    for seed in seeds:
        rounds = _judged(seqs, da.draw_round(projects, plan, seed, acc.looks), tau)
        est = da.estimate_look(rounds, acc.looks, acc, visible=visible)
        if est is None:
            continue
        lo, hi = est.residual_interval
        runs += 1
        hits += lo - 1e-9 <= truth <= hi + 1e-9
        dec = da.decide(rounds, target, acc, visible=visible)
        accepted += dec.action == "accept"
        stages = [st for r in rounds for st in da.sample_stages(r, acc.looks)]
        checks += sum(st <= dec.look for st in stages)
    return {
        "runs": runs,
        "hits": hits,
        "coverage": hits / runs if runs else None,
        "true_residual": truth,
        "accepted": accepted,
        "mean_checks": checks / runs if runs else None,
        "samples": plan.samples,
    }


def _act(q: _Seq, rnd: AuditRound) -> None:
    """What the annotator does with the checked samples once the round is decided."""
    p = q.ann.project
    for s in rnd.samples:
        gid = q.ann.gt_id_of(s.track_id)
        if gid is None or s.outcome is None:
            continue
        box = p.box(s.track_id, s.frame)
        if s.outcome == "ok":
            if box is not None and not box.is_keyframe:
                q.ann.verify(gid, s.frame)
        elif q.ann.iou_at(gid, s.frame) is None:
            if box is not None and not box.outside:
                q.ann.delete(gid, s.frame)
        elif box is not None and not box.is_keyframe:
            q.ann.correct(gid, s.frame)
            q.driver.retrack(p, s.track_id, s.frame)


def dataset_audit_loop(
    seqs: list[_Seq], tau: float, cfg: AuditBenchConfig, acc: da.AcceptancePlan | None = None
) -> dict[str, Any]:
    """Audit the sequences as one dataset to ``cfg.target`` (module doc)."""
    acc = acc or da.AcceptancePlan()
    target = cfg.target
    rounds_out: list[dict[str, Any]] = []
    last: da.Decision | None = None
    for r in range(cfg.max_rounds):
        projects = [q.ann.project for q in seqs]
        if not any(audit.unseen_boxes(p) for p in projects):
            rounds_out.append({"samples": 0, "decision": "accept", "true_residual": 0.0})
            break
        visible = sum(audit.n_visible(p) for p in projects)
        plan = da.plan_round(projects, target, acc)
        first_seed = 1000 + 1000 * r
        seeds = range(first_seed, first_seed + cfg.seeds)
        cov = coverage(seqs, plan, target, tau, seeds=seeds, acc=acc)
        drawn = da.draw_round(projects, plan, r, acc.looks)
        for p, rnd in zip(projects, drawn, strict=True):
            if rnd.samples:
                with p.edit("Start dataset audit") as tx:
                    tx.set_quality(
                        replace(p.quality, target=target, rounds=(*p.quality.rounds, rnd))
                    )

        def stored(
            drawn: list[AuditRound] = drawn, projects: list[Project] = projects
        ) -> list[AuditRound]:
            """The rounds as the projects hold them (with the outcomes so far)."""
            return [
                p.quality.rounds[-1] if d.samples else d
                for p, d in zip(projects, drawn, strict=True)
            ]

        checked_before = [copy.copy(q.ann.counts) for q in seqs]
        while True:
            dec = da.decide(stored(), target, acc, visible=visible)
            if dec.action != "check":
                break
            look = dec.look + 1
            for q, p, rnd in zip(seqs, projects, stored(), strict=True):
                for s, st in zip(rnd.samples, da.sample_stages(rnd, acc.looks), strict=True):
                    if st <= look and s.outcome is None:
                        v = _verdict(q.ann, s, tau)
                        assert v.outcome is not None
                        audit.record_outcome(p, s.track_id, s.frame, v.outcome)
        last = dec
        est = dec.estimate
        for q, rnd in zip(seqs, stored(), strict=True):
            _act(q, rnd)
        for q, before in zip(seqs, checked_before, strict=True):
            after = q.ann.counts
            q.audit_counts = q.audit_counts + ActionCounts(
                corrections=after.corrections - before.corrections,
                verifications=after.verifications - before.verifications,
            )
        rounds_out.append(
            {
                "samples": plan.samples,
                "checked": est.checked if est is not None else 0,
                "wrong": est.wrong if est is not None else 0,
                "look": dec.look,
                "decision": dec.action,
                "estimate": est.residual if est is not None else None,
                "interval": list(est.residual_interval) if est is not None else None,
                "bound": est.bound if est is not None else None,
                "true_residual": cov["true_residual"],
                "covered": est is not None
                and est.residual_interval[0] - 1e-9
                <= cov["true_residual"]
                <= est.residual_interval[1] + 1e-9,
                "coverage_over_seeds": cov,
            }
        )
        if dec.action == "accept":
            break
        da.flag_more(projects, dec, target)
        for q in seqs:
            stretch_review(q.ann, q.driver, tau)
            q.ann.project.history.clear()
    covs = [r["coverage_over_seeds"] for r in rounds_out if r.get("samples")]
    runs = sum(c["runs"] for c in covs)
    hits = sum(c["hits"] for c in covs)
    est = last.estimate if last is not None else None
    return {
        "dataset": True,
        "target": target,
        "sequences": len(seqs),
        "rounds": rounds_out,
        "met": bool(last is not None and last.action == "accept") or not covs,
        "estimate": est.residual if est is not None else 0.0,
        "interval": list(est.residual_interval) if est is not None else [0.0, 0.0],
        "true_residual_at_last_round": rounds_out[-1]["true_residual"] if rounds_out else None,
        "coverage_runs": runs,
        "coverage_hits": hits,
        "coverage": hits / runs if runs else None,
        "audit_rounds": len(covs),
        "acceptance": da.guarantee_text(acc),
        "method": est.method if est is not None else None,
    }


def run_dataset_audited(
    paths: list[str],
    engine_for: Callable[[GroundTruthSequence], Engine],
    config: TrackerConfig,
    tau: float,
    *,
    cfg: AuditBenchConfig | None = None,
    open_sources: bool = True,
) -> list[StrategyResult]:
    """One ``tracker_audited`` result per sequence, from one dataset audit over all of
    them. ``engine_for(gt)`` gives the engine of a sequence (the real one, or a test
    double that needs no frames: ``open_sources=False``)."""
    cfg = cfg or AuditBenchConfig()
    from tracker_annotate.io.media import open_media

    with ExitStack() as stack:
        seqs = []
        for path in paths:
            gt = load_mot_sequence(path)
            engine = engine_for(gt)
            source = stack.enter_context(open_media(path)) if open_sources else None
            ann = SimulatedAnnotator(gt)
            driver = _Driver(engine, source, config)
            _start(ann, driver)
            flags = _flag_stats(ann, tau)
            stretch_review(ann, driver, tau)
            ann.project.history.clear()
            seqs.append(_Seq(gt, ann, driver, flags, ActionCounts()))
        res = dataset_audit_loop(seqs, tau, cfg)
    out = []
    for q in seqs:
        per_seq = {
            **res,
            # the dataset's coverage is counted once, on the report's dataset summary
            "coverage_runs": 0,
            "coverage_hits": 0,
            "coverage_fixed_n_runs": 0,
            "coverage_fixed_n_hits": 0,
            "coverage_fixed_n": None,
        }
        out.append(
            engine_result(
                q.gt,
                "tracker_audited",
                tau,
                q.ann,
                q.driver,
                flags=q.flags,
                audit=per_seq,
                dataset_audit=res,
                audit_checks=q.audit_counts.verifications + q.audit_counts.corrections,
                audit_counts=q.audit_counts,
                curve=[],
            )
        )
    return out
