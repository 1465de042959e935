"""What the per-video recalibration says: one line for the review panel and ``status``,
its JSON for ``status --json`` and exports, and the calibration error used to measure it
(:mod:`tracker_annotate.core.recalibration` does the work)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.project import Project
from tracker_annotate.core.recalibration import RecalParams, _candidates, map_of, usable


def summary(project: Project) -> str:
    """One line for the review panel and ``status``, e.g. "learned from 40 reviews:
    confidence lowered; 120 more boxes flagged"."""
    q = project.quality
    n = len(usable(q.reviews))
    st = q.recal
    if st is None:
        if n < RecalParams().min_labels:
            return f"learning from reviews: {n} so far, {RecalParams().min_labels} needed"
        return f"{n} reviews not yet learned from"
    what = {
        "lowered": "confidence lowered",
        "raised": "confidence raised",
        "unchanged": "confidence as the engine said",
    }[st.direction]
    text = f"learned from {st.labels} reviews: {what}; {st.flagged_total} more boxes flagged"
    if st.lifted:
        text += f", {st.lifted} lifted"
    if n > st.labels:
        text += f" ({n - st.labels} newer reviews)"
    return text


def report(project: Project) -> dict[str, Any]:
    """The recalibration as JSON values, for ``status --json`` and exports."""
    q = project.quality
    use = usable(q.reviews)
    st = q.recal
    m = map_of(st)
    unseen = [b.confidence for _, b in _candidates(project) if not b.flagged]
    visible = sum(1 for t in project.tracks for b in project.boxes(t).values() if not b.outside)
    recal = m.apply(unseen) if unseen else np.zeros(0)
    return {
        "summary": summary(project),
        "reviews": len(q.reviews),
        "reviews_used": len(use),
        "reviews_wrong": sum(not o.right for o in use),
        "reviews_by_selection": {
            s: sum(o.selection == s for o in q.reviews) for s in ("flag", "audit", "other")
        },
        "fitted": st is not None,
        "intercept": st.a if st else 0.0,
        "slope": st.b if st else 1.0,
        "confident_range": {
            "intercept": st.a_hi if st else 0.0,
            "slope": st.b_hi if st else 1.0,
            "support": [st.hi_support_lo, st.hi_support_hi] if st else None,
        },
        "knot": st.knot if st else RecalParams().knot,
        "support": [st.support_lo, st.support_hi] if st else None,
        "labels_at_fit": st.labels if st else 0,
        "threshold": st.threshold if st else None,
        "direction": st.direction if st else None,
        "flagged_by_recalibration": st.flagged_total if st else 0,
        "lifted_last_run": st.lifted if st else 0,
        "predicted_wrong_unseen_recalibrated": round(float((1.0 - recal).sum()), 3),
        "predicted_residual_recalibrated": float((1.0 - recal).sum()) / visible if visible else 0.0,
    }


def ece(confidence: npt.ArrayLike, right: npt.ArrayLike, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width confidence bins."""
    c = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    if len(c) == 0:
        return math.nan
    idx = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for k in range(bins):
        m = idx == k
        if m.any():
            total += float(m.sum()) * abs(float(c[m].mean()) - float(y[m].mean()))
    return total / len(c)
