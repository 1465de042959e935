"""Strategies that price the app's real review: stretches, the audit loop, and guidance.

* ``tracker_stretch``: ``tracker_flagged`` priced as the app works. Stretches are visited in
  the app's value order (:func:`tracker_annotate.core.review.flag_segments`). Each one is
  watched in playback (``watch_s`` per box). If every box in it has IoU >= tau, it is
  accepted in one action (``verify_s``). Otherwise its worst box is corrected
  (``correct_s``) and re-tracked, and the flags are looked at again.
* ``tracker_audited``: ``tracker_stretch``, then the audit loop of
  :mod:`tracker_annotate.core.audit`, run to a target residual. Rounds are drawn; each
  sample is checked (``verify_s`` when right, ``correct_s`` plus a re-track when wrong;
  "wrong" = the annotator's standard: IoU < tau, or a box where the object is not). While
  the 95% upper bound is above the target, the threshold rises, the new flags get the
  stretch review, and another round is drawn. Drawing is cheap, so the interval's
  *coverage* is measured over many seeds at each round's state without re-tracking: each
  seed draws a round of the same size, the GT judges it, and the result is checked against
  the true value of the same estimand. That estimand is the wrong unseen project boxes
  over the visible project boxes.
* ``tracker_guided``: no oracle anywhere. Each track's first box is drawn and its end
  marked. Then the tool's guidance (:func:`tracker_annotate.core.review.suggest_keyframe`)
  picks the next frame to look at; the annotator accepts the box there (it becomes a
  keyframe) or corrects it, and the track is re-tracked. This repeats until the predicted
  residual of the unverified boxes is at most the target (or ``max_steps``). The flags
  the tool still raises then get the stretch review.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tracker_annotate.bench.annotator import SimulatedAnnotator
from tracker_annotate.bench.costs import ActionCounts
from tracker_annotate.bench.sequences import GroundTruthSequence
from tracker_annotate.bench.strategies import (
    Engine,
    StrategyResult,
    _continue_track,
    _Driver,
    _flag_stats,
    engine_result,
)
from tracker_annotate.core import audit
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.quality import AuditRound, AuditSample
from tracker_annotate.core.review import flag_segments, suggest_keyframe
from tracker_annotate.tracking.api import TrackerConfig


@dataclass(frozen=True)
class AuditBenchConfig:
    """The audit loop's knobs. More ``seeds`` make the coverage figure tighter (draws are
    cheap); more ``max_rounds`` let a badly calibrated engine reach the target at a price."""

    target: float = 0.01
    #: Extra targets for the budget curve (each re-runs the loop on a copy).
    curve_targets: tuple[float, ...] = (0.005, 0.02, 0.05)
    seeds: int = 20
    #: A fixed round size whose coverage is also measured: on a short sequence the
    #: target's sample is the whole population (an exact, trivially covering interval).
    coverage_samples: int = 40
    max_rounds: int = 5
    #: tracker_guided: most suggestions followed per sequence.
    max_steps: int = 150

    def __post_init__(self) -> None:
        for t in (self.target, *self.curve_targets):
            if not 0.0 < t < 1.0:
                raise ConfigError(f"audit targets must be in (0, 1), got {t}")
        for name in ("seeds", "max_rounds", "max_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"audit {name} must be >= 1, got {getattr(self, name)}")


def _start(ann: SimulatedAnnotator, driver: _Driver) -> None:
    for gid in ann.gt_track_ids:
        for first, last in ann.runs(gid):
            ann.draw(gid, first)
            ann.mark_end(gid, last)
    driver.track_all(ann.project)


def stretch_review(ann: SimulatedAnnotator, driver: _Driver, tau: float) -> int:
    """Review every flagged stretch the app way (see the module doc); returns visits."""
    project = ann.project
    visits = 0
    while True:
        progressed = False
        for seg in flag_segments(project):
            gid = ann.gt_id_of(seg.track_id)
            if gid is None:
                continue
            boxes = project.boxes(seg.track_id)
            frames = [
                f
                for f in range(seg.start, seg.end + 1)
                if f in boxes and boxes[f].flagged and not boxes[f].verified
            ]
            if not frames:
                continue
            visits += 1
            ann.watch(gid, frames)
            bad = [f for f in frames if ann.is_wrong(gid, f, tau)]
            if not bad:
                ann.accept_stretch(gid, frames)
                if ann.track_stops_early(gid, frames[-1]):
                    _continue_track(ann, driver, gid, frames[-1])
                    progressed = True
                    break
                continue
            worst = min(bad, key=lambda f: (ann.iou_at(gid, f) or -1.0, f))
            if ann.iou_at(gid, worst) is None:  # a box where the object is not
                ann.delete(gid, worst)
            else:
                ann.correct(gid, worst)
                driver.retrack(project, seg.track_id, worst)
                _continue_track(ann, driver, gid, worst)
            progressed = True
            break  # the re-track may have moved or raised flags: look again
        if not progressed:
            return visits


def run_tracker_stretch(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
) -> StrategyResult:
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    _start(ann, driver)
    precision, recall = _flag_stats(ann, tau)
    visits = stretch_review(ann, driver, tau)
    return engine_result(
        gt, "tracker_stretch", tau, ann, driver, flags=(precision, recall), stretch_visits=visits
    )


# -- the audit loop -----------------------------------------------------------------------------


def true_audit_residual(ann: SimulatedAnnotator, tau: float) -> float:
    """The audit's estimand, from GT: wrong unseen project boxes over visible boxes."""
    p = ann.project
    wrong = 0
    for tid, f, _ in audit.unseen_boxes(p):
        gid = ann.gt_id_of(tid)
        wrong += gid is not None and ann.is_wrong(gid, f, tau)
    return wrong / max(1, audit.n_visible(p))


def judge(ann: SimulatedAnnotator, rnd: AuditRound, tau: float) -> AuditRound:
    """The round with every outcome the GT gives (nothing in the project changes)."""
    out = []
    for s in rnd.samples:
        gid = ann.gt_id_of(s.track_id)
        wrong = gid is not None and ann.is_wrong(gid, s.frame, tau)
        out.append(AuditSample(s.track_id, s.frame, s.stratum, "wrong" if wrong else "ok"))
    return AuditRound(rnd.seed, rnd.threshold, rnd.n_boxes, rnd.strata, tuple(out))


def coverage(ann: SimulatedAnnotator, tau: float, n: int, seeds: range) -> dict[str, Any]:
    """How often the 95% interval of a round of ``n`` samples holds the true residual."""
    truth = true_audit_residual(ann, tau)
    hits = 0
    widths = []
    for seed in seeds:
        est = audit.estimate(judge(ann, audit.draw_audit(ann.project, n, seed), tau))
        if est is None:
            continue
        # an exhaustive round gives a point interval: equal up to float rounding is covered
        hits += est.residual_lo - 1e-9 <= truth <= est.residual_hi + 1e-9
        widths.append(est.residual_hi - est.residual_lo)
    runs = len(widths)
    return {
        "runs": runs,
        "hits": hits,
        "samples": n,
        "coverage": hits / runs if runs else None,
        "true_residual": truth,
        "mean_interval_width": sum(widths) / runs if runs else None,
    }


def audit_loop(
    ann: SimulatedAnnotator, driver: _Driver, tau: float, target: float, cfg: AuditBenchConfig
) -> dict[str, Any]:
    """Audit to ``target`` (see the module doc); the annotator's counts include it all."""
    p = ann.project
    audit.set_target(p, target)
    audit_counts = ActionCounts()
    rounds: list[dict[str, Any]] = []
    est = None
    for r in range(cfg.max_rounds):
        if not audit.unseen_boxes(p):  # every box was reviewed: nothing is left unseen
            truth = true_audit_residual(ann, tau)
            rounds.append(
                {
                    "samples": 0,
                    "wrong": 0,
                    "threshold": p.quality.threshold,
                    "estimate": 0.0,
                    "interval": [0.0, 0.0],
                    "true_residual": truth,
                    "covered": truth == 0.0,
                    "coverage_over_seeds": {"runs": 0, "hits": 0, "coverage": None},
                    "coverage_fixed_n": {"runs": 0, "hits": 0, "coverage": None},
                }
            )
            break
        rnd = audit.start_audit(p, seed=r, force=True)
        first_seed = 1000 + 100 * r  # coverage seeds, apart from the loop's own
        seeds = range(first_seed, first_seed + cfg.seeds)
        cov = coverage(ann, tau, len(rnd.samples), seeds)
        small = min(cfg.coverage_samples, len(audit.unseen_boxes(p)))
        cov_small = coverage(ann, tau, small, seeds)
        truth = true_audit_residual(ann, tau)
        judged = judge(ann, rnd, tau)
        before = copy.copy(ann.counts)
        for s in judged.samples:
            audit.record_outcome(p, s.track_id, s.frame, s.outcome)
        for s in judged.samples:  # act after judging: the round measured the state it drew
            gid = ann.gt_id_of(s.track_id)
            if gid is None:
                continue
            box = p.box(s.track_id, s.frame)
            if s.outcome == "ok":
                if box is not None and not box.is_keyframe:
                    ann.verify(gid, s.frame)
            elif ann.iou_at(gid, s.frame) is None:
                if box is not None and not box.outside:
                    ann.delete(gid, s.frame)
            elif box is not None and not box.is_keyframe:
                ann.correct(gid, s.frame)
                driver.retrack(p, s.track_id, s.frame)
        after = ann.counts
        audit_counts = audit_counts + ActionCounts(
            corrections=after.corrections - before.corrections,
            verifications=after.verifications - before.verifications,
        )
        est = audit.estimate(judged)
        assert est is not None
        rounds.append(
            {
                "samples": len(rnd.samples),
                "wrong": judged.wrong,
                "threshold": rnd.threshold,
                "estimate": est.residual,
                "interval": [est.residual_lo, est.residual_hi],
                "true_residual": truth,
                "covered": est.residual_lo - 1e-9 <= truth <= est.residual_hi + 1e-9,
                "coverage_over_seeds": cov,
                "coverage_fixed_n": cov_small,
            }
        )
        step = audit.loop_step(p)
        if step.action == "done":
            break
        if step.action == "flag_more" and step.threshold is not None:
            audit.apply_threshold(p, step.threshold)
            stretch_review(ann, driver, tau)
    last = rounds[-1] if rounds else None
    covs = [r["coverage_over_seeds"] for r in rounds if r["samples"]]
    runs = sum(c["runs"] for c in covs)
    fixed = [r["coverage_fixed_n"] for r in rounds if r["samples"]]
    fixed_runs = sum(c["runs"] for c in fixed)
    return {
        "target": target,
        "rounds": rounds,
        "audit_counts": audit_counts,
        "met": bool(last and last["interval"][1] <= target),
        "estimate": last["estimate"] if last else None,
        "interval": last["interval"] if last else None,
        "true_residual_at_last_round": last["true_residual"] if last else None,
        "coverage_runs": runs,
        "coverage_hits": sum(c["hits"] for c in covs),
        "coverage": sum(c["hits"] for c in covs) / runs if runs else None,
        "audit_rounds": sum(1 for r in rounds if r["samples"]),
        "coverage_fixed_n_runs": fixed_runs,
        "coverage_fixed_n_hits": sum(c["hits"] for c in fixed),
        "coverage_fixed_n": sum(c["hits"] for c in fixed) / fixed_runs if fixed_runs else None,
        "method": est.method if est is not None else None,
    }


def run_tracker_audited(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
    *,
    cfg: AuditBenchConfig | None = None,
) -> StrategyResult:
    cfg = cfg or AuditBenchConfig()
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    _start(ann, driver)
    precision, recall = _flag_stats(ann, tau)
    stretch_review(ann, driver, tau)
    ann.project.history.clear()  # the copies below need no undo stack
    curve = []
    for target in sorted(set(cfg.curve_targets) - {cfg.target}):
        alt = copy.deepcopy(ann)
        alt_driver = _Driver(driver.engine, driver.source, driver.config)
        res = audit_loop(alt, alt_driver, tau, target, cfg)
        q = alt.quality(tau)
        curve.append(
            {
                "target": target,
                "seconds_counts": alt.counts,
                "residual_error_rate": q.unseen_below_half / max(1, q.n_gt_boxes),
                "residual_error_rate_tau": q.unseen_below_tau / max(1, q.n_gt_boxes),
                "met": res["met"],
            }
        )
        driver.seconds += alt_driver.seconds
    res = audit_loop(ann, driver, tau, cfg.target, cfg)
    counts = res.pop("audit_counts")
    return engine_result(
        gt,
        "tracker_audited",
        tau,
        ann,
        driver,
        flags=(precision, recall),
        audit=res,
        audit_checks=counts.verifications + counts.corrections,
        audit_counts=counts,
        curve=curve,
    )


# -- guidance --------------------------------------------------------------------------------


def predicted_unverified_residual(ann: SimulatedAnnotator) -> float:
    """Expected wrong among the derived boxes nobody verified, over visible boxes."""
    p = ann.project
    e = sum(
        1.0 - b.confidence
        for t in p.tracks
        for b in p.boxes(t).values()
        if b.is_derived and not b.outside and not b.verified
    )
    return e / max(1, audit.n_visible(p))


def run_tracker_guided(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
    *,
    cfg: AuditBenchConfig | None = None,
) -> StrategyResult:
    cfg = cfg or AuditBenchConfig()
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    _start(ann, driver)
    p = ann.project
    steps = accepted = corrected = 0
    while steps < cfg.max_steps and predicted_unverified_residual(ann) > cfg.target:
        hit = suggest_keyframe(p)
        if hit is None:
            break
        frame, tid, _ = hit
        gid = ann.gt_id_of(tid)
        if gid is None:
            break
        steps += 1
        if ann.iou_at(gid, frame) is None:  # the object is not there
            ann.delete(gid, frame)
            corrected += 1
            continue
        if ann.is_wrong(gid, frame, tau):
            ann.correct(gid, frame)
            corrected += 1
        else:
            ann.verify(gid, frame)
            accepted += 1
        driver.retrack(p, tid, frame)
        _continue_track(ann, driver, gid, frame)
    predicted = predicted_unverified_residual(ann)
    visits = stretch_review(ann, driver, tau)
    return engine_result(
        gt,
        "tracker_guided",
        tau,
        ann,
        driver,
        flags=(None, None),  # the review's threshold; its precision is not measured here
        guided_steps=steps,
        guided_accepted=accepted,
        guided_corrected=corrected,
        predicted_residual_when_stopped=predicted,
        stretch_visits=visits,
        target=cfg.target,
    )
