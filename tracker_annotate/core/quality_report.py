"""What the project says about its own quality, for ``status``, exports and the app.

:func:`quality_report` is a JSON-able dict (written into CVAT ``<meta>``, COCO ``info`` and
the MOT / YOLO sidecar); :func:`export_warnings` lists what an export should not pass over
silently (unreviewed flags, no or an unfinished audit, an audit above its target).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker_annotate import __version__
from tracker_annotate.core import audit, recal_report
from tracker_annotate.core.project import Project
from tracker_annotate.core.proposals import proposal_queue
from tracker_annotate.core.quality import DatasetFigures
from tracker_annotate.core.review import flag_segments

#: Version of the report's layout (bump when a key changes meaning).
REPORT_VERSION = 1


def quality_report(project: Project) -> dict[str, Any]:
    """Target, flags, predicted residual and the audit's estimate, as plain JSON values.

    ``predicted_residual`` is ``sum(1 - c)`` over the unseen boxes over the visible boxes
    (a prediction from confidences); ``audit.estimate`` is the measurement, with its 95%
    interval, once every stratum has a checked sample. Proposed objects are in none of
    these figures (:func:`~tracker_annotate.core.proposals.review_track_ids`), only in
    ``open_proposals``.
    """
    q = project.quality
    segs = flag_segments(project)
    unseen = audit.unseen_columns(project)[2]
    visible = audit.n_visible(project)
    # cumsum adds left to right, like the plain sum this replaced: the same float
    expected = float(np.cumsum(1.0 - unseen)[-1]) if unseen.size else 0.0
    out: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "generator": f"tracker_annotate {__version__}",
        "target_residual": q.target,
        "flag_threshold": q.threshold,
        "visible_boxes": visible,
        "unseen_boxes": len(unseen),
        "unreviewed_flags": sum(s.length for s in segs),
        "unreviewed_stretches": len(segs),
        # proposals wait apart: none of their boxes is in any figure here until accepted
        "open_proposals": len(proposal_queue(project)),
        "predicted_wrong_unseen": round(expected, 3),
        "predicted_residual": expected / visible if visible else 0.0,
        "residual_definition": "wrong boxes nobody looked at / visible boxes",
        "audit": None,
        "dataset_audit": q.dataset.as_dict() if q.dataset is not None else None,
        "recalibration": recal_report.report(project),
    }
    rnd = audit.current_round(project)
    if rnd is not None:
        est = audit.estimate(rnd)
        step = audit.loop_step(project)
        out["audit"] = {
            "round": len(q.rounds),
            "seed": rnd.seed,
            "threshold": rnd.threshold,
            "drawn": len(rnd.samples),
            "checked": rnd.checked,
            "wrong": rnd.wrong,
            "strata": [
                {"name": s.name, "confidence": [s.lo, s.hi], "unseen_boxes": s.population}
                for s in rnd.strata
            ],
            "estimate": est.as_dict() if est is not None else None,
            "summary": est.summary() if est is not None else f"{rnd.checked} checked",
            "next": step.action,
            "next_message": step.message,
        }
        d = q.dataset
        if d is not None and d.round == len(q.rounds) - 1:  # this round is a dataset's share
            out["audit"]["next"] = "dataset"
            out["audit"]["next_message"] = (
                f"this round is this project's share of a dataset audit ({d.manifest}): "
                f"the verdict is the dataset's ('tracker-annotate audit DIR next')"
            )
    return out


def export_warnings(project: Project) -> list[str]:
    """Sentences to show before (or after) exporting; empty when the quality is measured
    and meets the target."""
    rep = quality_report(project)
    out: list[str] = []
    if rep["unreviewed_flags"]:
        out.append(
            f"{rep['unreviewed_flags']} flagged boxes in {rep['unreviewed_stretches']} "
            f"stretches are not reviewed"
        )
    if rep["open_proposals"]:
        out.append(
            f"{rep['open_proposals']} proposed objects are neither accepted nor rejected "
            f"(they are exported as proposed tracks)"
        )
    d = project.quality.dataset
    if d is not None:  # the project is judged as part of its dataset, not on its own
        if d.decision == "check":
            out.append(f"the dataset audit is unfinished: {dataset_text(d)}")
        elif d.decision == "reject":
            out.append(f"the dataset audit did not meet its target: {dataset_text(d)}")
        return out
    a = rep["audit"]
    target = 100 * rep["target_residual"]
    if a is None:
        out.append(
            f"no audit: the residual error is only predicted "
            f"(≈{100 * rep['predicted_residual']:.1f}% from the confidences), not measured"
        )
    elif a["checked"] < a["drawn"]:
        out.append(f"the audit is unfinished: {a['checked']} of {a['drawn']} samples checked")
    elif a["next"] == "flag_more":
        hi = 100 * a["estimate"]["residual_interval"][1]
        out.append(
            f"the audit's 95% upper bound {hi:.1f}% is above the {target:g}% target "
            f"({a['summary']})"
        )
    return out


def dataset_text(d: DatasetFigures) -> str:
    """One line on the dataset audit's figures."""
    head = f"{d.projects} projects, {d.checked} of {d.samples} samples checked"
    if d.residual is None or d.residual_interval is None:
        return f"{head} ({d.manifest}, {d.date})"
    lo, hi = d.residual_interval
    verdict = {"accept": "target met", "reject": "target not met"}.get(d.decision, "open")
    return (
        f"{head}, {d.wrong} wrong → ≈{100 * d.residual:.2f}% left "
        f"({100 * lo:.2f}–{100 * hi:.2f}%, {100 * d.level:g}%); {verdict} "
        f"(≤ {100 * d.target:g}%, look {d.look}) ({d.manifest}, {d.date})"
    )


def status_text(project: Project) -> str:
    """The human-readable ``tracker-annotate status`` report."""
    rep = quality_report(project)
    thr = rep["flag_threshold"]
    lines = [
        f"boxes:      {rep['visible_boxes']} visible, {rep['unseen_boxes']} unseen "
        f"(derived, not flagged, not verified)",
        f"flags:      {rep['unreviewed_flags']} unreviewed in {rep['unreviewed_stretches']} "
        f"stretches",
        f"proposals:  {rep['open_proposals']} proposed objects to accept or reject (their "
        f"boxes count once accepted)",
        f"target:     ≤ {100 * rep['target_residual']:g}% wrong and unseen; flag threshold "
        + (f"{thr:.3f}" if thr is not None else "the engine's"),
        f"predicted:  ≈{rep['predicted_wrong_unseen']:.1f} wrong unseen boxes → "
        f"≈{100 * rep['predicted_residual']:.2f}% left (from confidences)",
    ]
    recal = rep["recalibration"]
    lines.append(f"learned:    {recal['summary']}")
    if recal["fitted"]:
        lines.append(
            f"            recalibrated prediction ≈"
            f"{100 * recal['predicted_residual_recalibrated']:.2f}% left"
        )
    pick = audit.choose_threshold(project, target=rep["target_residual"])
    if pick.flagged > rep["unreviewed_flags"]:
        lines.append(f"to target:  threshold {pick.threshold:.3f}: {pick.summary()}")
    a = rep["audit"]
    if a is None:
        lines.append("audit:      none yet")
    else:
        lines.append(
            f"audit:      round {a['round']} (seed {a['seed']}), {a['checked']} of "
            f"{a['drawn']} checked"
        )
        if a["estimate"] is not None:
            lines.append(f"            {a['summary']}")
            lines.append(f"            interval: {a['estimate']['interval_method']}")
        lines.append(f"next:       {a['next_message']}")
    d = project.quality.dataset
    if d is not None:
        lines.append(f"dataset:    {dataset_text(d)}")
    return "\n".join(lines)
