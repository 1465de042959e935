"""``tracker_adaptive``: the flagged review of ``tracker_flagged``, with the confidence
recalibrated on the video from the annotator's own verdicts, as the app does.

The annotator reviews flags exactly as in ``tracker_flagged`` (verify, or correct and
re-track). Its verdicts reach the project through the same commands the app calls
(``accept_box``, ``set_box_geometry``, ``delete_box``), which record them; the
recalibration (:func:`tracker_annotate.core.recalibration.maybe_recalibrate`) reads only
those records: the confidence and the verdict of boxes the tool showed. No ground truth
reaches it any other way. When the queue is empty the recalibration runs once more on the
verdicts it has not used; if it flags boxes they are reviewed too, until a run adds none.

The flags alone say nothing about the confident range: every flagged box is below the
threshold, and the recalibration does not extrapolate past its labels. So, once the
queue is empty, the annotator checks a small *calibration probe*: one audit round of
``probe`` random unflagged boxes (:func:`tracker_annotate.core.audit.start_audit`, the
app's Start audit), each verified or corrected as the app's audit walk does
(:func:`~tracker_annotate.core.audit.record_outcome`, then accept or redraw and re-track).
Those verdicts are labels with a known inclusion probability in the confident range;
the recalibration runs on them and the flags it raises are reviewed like the rest.
The annotator has applied the project's quality target (``target``, 1%): each
recalibration flags what that target needs on the recalibrated confidences. ``probe=0``
and ``target=None`` give the flags-only variant.

Reported beside the usual figures (ground truth used for *measuring* only): the fit, the
flags it added, and the expected calibration error of the boxes nobody reviewed, with
the engine's confidence and with the recalibrated one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tracker_annotate.bench.annotator import SimulatedAnnotator
from tracker_annotate.bench.review_strategies import judge
from tracker_annotate.bench.sequences import GroundTruthSequence
from tracker_annotate.bench.strategies import (
    Engine,
    StrategyResult,
    _Driver,
    _flag_stats,
    engine_result,
    review_flags,
)
from tracker_annotate.core import audit, recal_report
from tracker_annotate.core import recalibration as rc
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.quality import DEFAULT_TARGET
from tracker_annotate.core.recal_state import ReviewOutcome
from tracker_annotate.tracking.api import TrackerConfig

#: Audit samples of the calibration probe (see the module doc): enough for a handful of
#: wrong ones where the engine is badly over-sure, cheap next to the review (~40 s).
PROBE = 20


def check_probe(ann: SimulatedAnnotator, driver: _Driver, tau: float, n: int, seed: int) -> int:
    """Draw an audit round of ``n`` unflagged boxes and check each the app's way; returns
    how many were wrong (0 when nothing is left unseen)."""
    p = ann.project
    if n <= 0 or not audit.unseen_boxes(p):
        return 0
    rnd = audit.start_audit(p, seed=seed, n=n, force=True)
    judged = judge(ann, rnd, tau)  # the annotator's verdicts (it holds the ground truth)
    for s in judged.samples:  # every label first, on the boxes as drawn
        audit.record_outcome(p, s.track_id, s.frame, s.outcome)
    for s in judged.samples:  # then fix what is wrong (a re-track may change later ones)
        gid = ann.gt_id_of(s.track_id)
        box = p.box(s.track_id, s.frame)
        if gid is None or box is None or box.is_keyframe or box.outside:
            continue
        if not ann.is_wrong(gid, s.frame, tau):
            ann.verify(gid, s.frame)
        elif ann.iou_at(gid, s.frame) is None:
            ann.delete(gid, s.frame)
        else:
            ann.correct(gid, s.frame)
            driver.retrack(p, s.track_id, s.frame)
    return judged.wrong


def _flagged_now(ann: SimulatedAnnotator, tau: float) -> list[tuple[int, int, float, bool]]:
    """``(track, frame, confidence, wrong)`` of every flagged derived box (wrong from GT,
    for measuring only)."""
    p = ann.project
    out = []
    for tid in sorted(p.tracks):
        gid = ann.gt_id_of(tid)
        if gid is None:
            continue
        for f, b in sorted(p.boxes(tid).items()):
            if b.flagged and b.is_derived and not b.outside:
                out.append((tid, f, b.confidence, ann.is_wrong(gid, f, tau)))
    return out


def selection_check(
    initial: list[tuple[int, int, float, bool]], reviews: Sequence[ReviewOutcome]
) -> dict[str, Any]:
    """Does a flag's chance of being labelled depend on its correctness? Of the boxes the
    first tracking run flagged, some were labelled and some were re-tracked away before
    their visit. Independence given the confidence means both groups are wrong at the
    rate their confidences predict; the figures say how far each is from it."""
    seen = {(o.track_id, o.frame, o.confidence) for o in reviews if o.selection == "flag"}

    def group(rows: list[tuple[int, int, float, bool]]) -> dict[str, Any]:
        n = len(rows)
        return {
            "boxes": n,
            "wrong_rate": sum(w for *_, w in rows) / n if n else None,
            "predicted_wrong_rate": sum(1.0 - c for _, _, c, _ in rows) / n if n else None,
        }

    lab = [r for r in initial if (r[0], r[1], r[2]) in seen]
    gone = [r for r in initial if (r[0], r[1], r[2]) not in seen]
    return {"labelled": group(lab), "not_labelled": group(gone)}


def calibration_of_unreviewed(
    ann: SimulatedAnnotator, tau: float, params: rc.RecalParams | None = None
) -> dict[str, Any]:
    """ECE of the derived, visible boxes nobody verified, before (engine) and after (the
    project's recalibration) against the annotator's standard (IoU >= ``tau``)."""
    p = ann.project
    conf: list[float] = []
    right: list[bool] = []
    for tid in sorted(p.tracks):
        gid = ann.gt_id_of(tid)
        if gid is None:
            continue
        for f, b in sorted(p.boxes(tid).items()):
            if b.is_derived and not b.outside and not b.verified:
                conf.append(b.confidence)
                right.append(not ann.is_wrong(gid, f, tau))
    m = rc.map_of(p.quality.recal, params)
    after = m.apply(conf) if conf else np.zeros(0)
    return {
        "boxes": len(conf),
        "wrong": int(len(right) - sum(right)),
        "mean_confidence_before": float(np.mean(conf)) if conf else None,
        "mean_confidence_after": float(np.mean(after)) if conf else None,
        "accuracy": float(np.mean(right)) if conf else None,
        "ece_before": recal_report.ece(conf, right) if conf else None,
        "ece_after": recal_report.ece(after, right) if conf else None,
    }


def run_tracker_adaptive(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource | None,
    config: TrackerConfig,
    tau: float,
    *,
    params: rc.RecalParams | None = None,
    probe: int = PROBE,
    seed: int = 0,
    target: float | None = DEFAULT_TARGET,
) -> StrategyResult:
    params = params or rc.RecalParams()
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    for gid in ann.gt_track_ids:
        for first, last in ann.runs(gid):
            ann.draw(gid, first)
            ann.mark_end(gid, last)
    driver.track_all(ann.project)
    precision, recall = _flag_stats(ann, tau)
    initial = _flagged_now(ann, tau)  # for the selection check only (ground truth)
    project = ann.project
    threshold = config.flag_threshold
    runs: list[rc.RecalState] = []

    def recalibrate() -> bool:
        res = rc.maybe_recalibrate(project, threshold, params, target=target)
        if res is None:
            return False
        runs.append(res.state)
        return bool(res.state.flagged or res.state.lifted)

    visits = 0
    probe_wrong = 0
    probed = False
    while True:
        visits += review_flags(ann, driver, tau, after_visit=recalibrate)
        if recalibrate():  # the queue is empty: learn from what is left, once more
            continue
        if probed:
            break
        probed = True  # one probe of the confident range, then learn from it
        probe_wrong = check_probe(ann, driver, tau, probe, seed)
        if not recalibrate():
            break
    project.history.clear()  # a long bench run needs no undo stack
    st = project.quality.recal
    use = rc.usable(project.quality.reviews)
    return engine_result(
        gt,
        "tracker_adaptive",
        tau,
        ann,
        driver,
        flags=(precision, recall),
        flag_visits=visits,
        recalibration={
            "target": target,
            "threshold": st.threshold if st else None,
            "probe_samples": probe,
            "probe_wrong": probe_wrong,
            "runs": len(runs),
            "labels": len(use),
            "labels_wrong": sum(not o.right for o in use),
            "labels_other": len(project.quality.reviews) - len(use),
            "intercept": st.a if st else 0.0,
            "slope": st.b if st else 1.0,
            "support": [st.support_lo, st.support_hi] if st else None,
            "confident_range": [st.a_hi, st.b_hi, st.hi_support_lo, st.hi_support_hi]
            if st
            else None,
            "flags_added": sum(r.flagged for r in runs),
            "flags_lifted": sum(r.lifted for r in runs),
            "summary": recal_report.summary(project),
            "unreviewed": calibration_of_unreviewed(ann, tau, params),
            "selection_check": selection_check(initial, project.quality.reviews),
        },
    )
