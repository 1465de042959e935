"""The record of human verdicts the per-video recalibration learns from
(:mod:`tracker_annotate.core.recalibration`, whose module doc says why each verdict's
*selection* is kept).

:func:`note_review` is called by the commands that judge a derived box (accept, redraw,
delete) and :func:`note_audit` by the audit's outcome, each inside the command's own edit
and *before* the box changes: the selection (flag, audit sample, or the annotator's own
choice) and the engine's confidence are read from the box as it was shown.
"""

from __future__ import annotations

from dataclasses import replace

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.project import Project
from tracker_annotate.core.recal_state import ReviewOutcome, Selection


def _pending_audit(project: Project, track_id: int, frame: int) -> tuple[float, str] | None:
    """``(inclusion, stratum name)`` when the box is a sample of the current audit round."""
    q = project.quality
    if not q.rounds:
        return None
    rnd = q.rounds[-1]
    hit = rnd.sample_at(track_id, frame)
    if hit is None:
        return None
    stratum = rnd.strata[hit.stratum]
    drawn = sum(1 for s in rnd.samples if s.stratum == hit.stratum)
    return min(1.0, drawn / max(1, stratum.population)), stratum.name


def _already(project: Project, track_id: int, frame: int, confidence: float) -> bool:
    """A verdict on this very box is on record (an audit outcome, then its accept)."""
    return any(
        o.track_id == track_id and o.frame == frame and o.confidence == confidence
        for o in reversed(project.quality.reviews)
    )


def _record(project: Project, outcome: ReviewOutcome) -> None:
    q = project.quality
    with project.edit("Review outcome") as tx:
        tx.set_quality(replace(q, reviews=(*q.reviews, outcome)))


def note_review(project: Project, track_id: int, box: FrameBox | None, right: bool) -> None:
    """Record a verdict on ``box`` (its state *before* the verdict) if it is a derived,
    visible, unverified box: the selection comes from that state (see the module doc).
    Joins the caller's open edit, so the verdict and its record are one undo step."""
    if box is None or box.is_keyframe or box.outside:
        return
    if _already(project, track_id, box.frame, box.confidence):
        return
    sample = _pending_audit(project, track_id, box.frame)
    selection: Selection
    if sample is not None:
        selection, inclusion, reason = "audit", sample[0], sample[1]
    elif box.flagged:
        selection, inclusion, reason = "flag", 1.0, box.flag_reason
    else:
        selection, inclusion, reason = "other", 1.0, ""
    _record(
        project,
        ReviewOutcome(track_id, box.frame, box.confidence, right, selection, inclusion, reason),
    )


def note_audit(project: Project, track_id: int, frame: int, right: bool | None) -> None:
    """Record an audit sample's outcome (``None`` clears it). Call it before the round's
    outcome is stored and before the box changes; joins the caller's edit."""
    box = project.box(track_id, frame)
    if right is None:
        q = project.quality
        keep = tuple(
            o
            for o in q.reviews
            if not (o.track_id == track_id and o.frame == frame and o.selection == "audit")
        )
        if len(keep) != len(q.reviews):
            with project.edit("Review outcome") as tx:
                tx.set_quality(replace(q, reviews=keep))
        return
    note_review(project, track_id, box, right)
