"""Per-video recalibration: what the annotator's verdicts say about the engine's confidence
on *this* video, and the flags that follow.

Labels. Every verdict on a derived box is recorded (:func:`~.review_log.note_review`,
:func:`~.review_log.note_audit`) with the box's engine confidence ``c`` and how the box came to be
shown (:data:`~tracker_annotate.core.recal_state.Selection`), read from the box's state
*before* the verdict, never from the verdict itself:

* ``flag``: the box was flagged. The flag rule looks at the engine's signals (``c`` below
  the threshold, or a rule such as a track end), not at whether the box is right.
* ``audit``: the box was a sample of the current audit round, drawn at random from its
  confidence stratum with probability ``n_h / N_h``.
* ``other``: the annotator fixed a box nobody asked about, perhaps *because* it looked
  wrong. Its selection may depend on its correctness, so the fit never uses it.

The fit (:func:`fit`). ``logit P(right) = a + b x + d max(0, x - logit knot)`` with
``x = logit c``: Platt scaling on the engine's logit, with one bend at the knot (0.5, the
usual flag threshold) so the flagged range and the confident range may be off by
different amounts (one line through both let the many flag labels set the confident
boxes' map against the few audit samples there). The MAP estimate under a Gaussian prior
centred on the identity (``a = 0``, ``b = 1``, ``d = 0``; :class:`RecalParams` says how
strongly), by Newton's method: deterministic, the same outcomes in the same order give
the same map. It is a regression of correctness
*on* ``c``: if a label's selection depends only on ``c`` (and on randomness independent of
correctness), ``P(right | c, selected) = P(right | c)`` and the conditional likelihood is
unbiased without weights, however unevenly the labels are spread over ``c``. That holds
for audit samples (strata are confidence bands) and for flags to the extent the flag
rule is a function of ``c``. Two places where it holds only approximately: rule flags
(track ends, overlaps) select on signals besides ``c``; and a box reached later in a
stretch exists only if the boxes before it were not corrected (a correction re-tracks
it away), which favours right boxes when errors come in runs, so the fit under-states
errors rather than inventing them. Audit samples are weighted by ``1 / inclusion`` only
where the estimate is a population share (:func:`band_error`: whether an audit band
supports lifting a flag), never in the regression.

No extrapolation. Labels only say something where they are. The *support* is
``[lo, hi]``, where at least :attr:`RecalParams.min_support` labels lie at or below ``lo``
and at or above ``hi``. Inside it the map is the fit. Above ``hi`` a lowering fades
linearly to nothing over :attr:`RecalParams.fade_logits` logits (with flag reviews only,
labels stop near the flag threshold, so a box at 0.99 keeps the engine's confidence), and
a raising is never extended (boxes just above ``hi`` are raised only as far as keeps the
map increasing); below ``lo`` the same, mirrored. Audit samples in the confident range
widen the support, and only then does the map move confident boxes fully.

Re-flag (:func:`recalibrate`, one undoable step). A derived, visible, unverified box whose
recalibrated confidence is below the threshold is flagged, with the reason "the engine was
over-sure on this video: N of M reviewed boxes at this confidence were wrong" (the M
labels nearest in confidence). Flags the recalibration raised before are recomputed
(lifted when the new map no longer lowers the box below the threshold). Once the annotator
has applied a quality target (``target``), the threshold is what that target needs on the
recalibrated confidences (:func:`target_threshold`: the lowest one whose predicted
residual ``sum(1 - r) / visible`` over the boxes left meets it), so a video the engine was
over-sure on gets the extra flags its real error rate calls for. Any other
confidence flag is lifted only when the map raises the box above the threshold *and* the
audit samples around its confidence support it (:func:`band_error`: at least
:attr:`RecalParams.min_band_samples` of them, the 95% upper bound of their weighted error
rate at most ``1 - threshold``). Rule flags (track ends, stale stretches, audit finds,
proposals) are never lifted.

When it runs (:func:`maybe_recalibrate`): after every :attr:`RecalParams.every` new labels,
and when the flag queue runs empty with labels not yet used. Not after each verdict: a
queue that re-sorts under the annotator's hand on every Enter is hard to work through,
and ten labels is the least that moves the fit beyond its prior. Each run is its own undo
step, after the verdict that triggered it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from tracker_annotate.core import intervals
from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.project import Project
from tracker_annotate.core.recal_state import RecalState, ReviewOutcome

FloatArray = npt.NDArray[np.float64]

#: Prefix of the reason given to the boxes the recalibration flags.
REASON_PREFIX = "the engine was over-sure on this video"
#: Prefix of the reason given to boxes flagged for the quality target on the recalibrated
#: confidences (not lowered themselves, but below what the target needs).
TARGET_PREFIX = "below the quality target on this video's recalibrated confidence"
#: Confidences are clipped to ``[EPS, 1 - EPS]`` before the logit (logit range ±9.2).
EPS = 1e-4
#: Flag reasons raised by a rule, not by the confidence: never lifted by a recalibration.
RULE_REASONS = frozenset(
    {
        "not re-tracked after an edit (interrupted); re-track or check it",  # commands
        "found wrong by the audit",  # audit
        "new object?",  # proposals
        "re-found by the detector: same object?",  # proposals
        "track end: confirm",  # tracking.confidence (core does not import tracking)
        "left the frame?",
        "frame could not be decoded",
        "two tracks on one object",
        "parted from another track: same object?",
        "found again after occlusion: same object?",
    }
)


@dataclass(frozen=True)
class RecalParams:
    """The recalibration's knobs, each a trade-off.

    ``prior_sd_a`` / ``prior_sd_b`` / ``prior_sd_d``: prior spread of the intercept, the
    slope and the slope's change at ``knot`` (a confidence; the engine's usual flag
    threshold, where the flagged range meets the confident one) around the identity.
    Smaller trusts the engine's calibration longer (a few labels barely move it); larger
    follows this video's labels sooner but chases noise on a handful.
    ``min_labels``: below this many usable labels the map stays the identity.
    ``min_support``: labels needed beyond a confidence for it to count as covered; more
    is safer against one stray label stretching the map's range.
    ``fade_logits``: how far above (below) the covered range a lowering (raising) still
    fades out; 0 never moves a box outside the labels' range, larger extrapolates more.
    ``min_slope``: floor on ``b`` so the map keeps increasing.
    ``every``: new labels between automatic runs; fewer follows the annotator sooner but
    re-sorts the queue more often.
    ``near_labels``: how many labels nearest a box's confidence its flag reason cites.
    ``band_logits`` / ``min_band_samples``: the audit band around a box's confidence that
    must support lifting its flag, and how many samples it needs.
    """

    prior_sd_a: float = 0.5
    prior_sd_b: float = 0.25
    prior_sd_d: float = 0.5
    knot: float = 0.5
    min_labels: int = 10
    min_support: int = 5
    fade_logits: float = 2.0
    min_slope: float = 0.2
    every: int = 10
    near_labels: int = 20
    band_logits: float = 0.5
    min_band_samples: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.knot < 1.0:
            raise ConfigError(f"recalibration knot must be in (0, 1), got {self.knot}")
        for name in ("prior_sd_a", "prior_sd_b", "prior_sd_d", "min_slope", "band_logits"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"recalibration {name} must be > 0, got {getattr(self, name)}")
        if self.fade_logits < 0:
            raise ConfigError(f"recalibration fade_logits must be >= 0, got {self.fade_logits}")
        for name in ("min_labels", "min_support", "every", "near_labels", "min_band_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"recalibration {name} must be >= 1, got {getattr(self, name)}")


def logit(c: npt.ArrayLike) -> FloatArray:
    p = np.clip(np.asarray(c, dtype=np.float64), EPS, 1.0 - EPS)
    out: FloatArray = np.log(p) - np.log1p(-p)
    return out


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


# -- the map --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecalMap:
    """``logit P = a + b x + d max(0, x - knot)`` (``x = logit c``) on the support
    ``[lo, hi]`` (logits), faded outside it (see the module doc). The identity map has
    ``a = 0, b = 1, d = 0``."""

    a: float = 0.0
    b: float = 1.0
    lo: float = 0.0
    hi: float = 0.0
    fade: float = 2.0
    d: float = 0.0
    knot: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.a == 0.0 and self.b == 1.0 and self.d == 0.0

    def _g(self, x: FloatArray | float) -> FloatArray:
        return np.asarray(
            self.a + self.b * np.asarray(x) + self.d * np.maximum(0.0, np.asarray(x) - self.knot),
            dtype=np.float64,
        )

    def logit_shift(self, c: npt.ArrayLike) -> FloatArray:
        """How far the map moves each confidence, in logits (negative: lowered)."""
        x = logit(c)
        return self._map_logit(x) - x

    def _map_logit(self, x: FloatArray) -> FloatArray:
        lo, hi, fade = self.lo, self.hi, self.fade
        out = self._g(x)
        s_hi = float(self._g(hi)) - hi  # shift at the top edge of the support
        above = x > hi
        if s_hi <= 0:
            w = np.clip(1.0 - (x - hi) / fade, 0.0, 1.0) if fade > 0 else np.zeros_like(x)
            out = np.where(above, x + s_hi * w, out)
        else:
            out = np.where(above, np.maximum(x, hi + s_hi), out)
        s_lo = float(self._g(lo)) - lo
        below = x < lo
        if s_lo >= 0:
            w = np.clip(1.0 - (lo - x) / fade, 0.0, 1.0) if fade > 0 else np.zeros_like(x)
            out = np.where(below, x + s_lo * w, out)
        else:
            out = np.where(below, np.minimum(x, lo + s_lo), out)
        return np.asarray(out, dtype=np.float64)

    def apply(self, c: npt.ArrayLike) -> FloatArray:
        """The recalibrated confidence of each engine confidence (0 and 1 stay)."""
        arr = np.asarray(c, dtype=np.float64)
        if self.is_identity:
            return arr.copy()
        out = _sigmoid(self._map_logit(logit(arr)))
        return np.where((arr <= 0.0) | (arr >= 1.0), arr, out)


def map_of(state: RecalState | None, params: RecalParams | None = None) -> RecalMap:
    """The map a stored recalibration applies (the identity when there is none)."""
    if state is None:
        return RecalMap()
    fade = (params or RecalParams()).fade_logits
    lo, hi = float(logit(state.support_lo)), float(logit(state.support_hi))
    return RecalMap(state.a, state.b, lo, hi, fade, state.d, float(logit(state.knot)))


# -- the fit --------------------------------------------------------------------------------


def usable(outcomes: Sequence[ReviewOutcome]) -> list[ReviewOutcome]:
    """The outcomes the fit may use: selected by a flag or the audit, never ``other``."""
    return [o for o in outcomes if o.selection != "other"]


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted map and what it rests on."""

    map: RecalMap
    labels: int
    wrong: int
    audit_labels: int
    support_lo: float  # engine confidence
    support_hi: float


def fit(outcomes: Sequence[ReviewOutcome], params: RecalParams | None = None) -> Fit:
    """The MAP Platt map from the usable outcomes (see the module doc); the identity with
    fewer than ``min_labels`` of them. Deterministic."""
    params = params or RecalParams()
    use = usable(outcomes)
    n = len(use)
    wrong = sum(not o.right for o in use)
    n_audit = sum(o.selection == "audit" for o in use)
    knot = float(logit(params.knot))
    if n < params.min_labels:
        return Fit(RecalMap(fade=params.fade_logits, knot=knot), n, wrong, n_audit, 0.5, 0.5)
    x = logit([o.confidence for o in use])
    y = np.array([1.0 if o.right else 0.0 for o in use])
    k = min(params.min_support, n)
    xs = np.sort(x)
    lo, hi = float(xs[k - 1]), float(xs[n - k])
    prior_mean = np.array([0.0, 1.0, 0.0])
    prec = np.diag(
        [1.0 / params.prior_sd_a**2, 1.0 / params.prior_sd_b**2, 1.0 / params.prior_sd_d**2]
    )
    design = np.stack([np.ones(n), x, np.maximum(0.0, x - knot)], axis=1)
    theta = prior_mean.copy()
    for _ in range(100):
        p = _sigmoid(design @ theta)
        grad = design.T @ (p - y) + prec @ (theta - prior_mean)
        w = p * (1.0 - p)
        hess = design.T @ (design * w[:, None]) + prec
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        theta[1] = max(theta[1], params.min_slope)
        theta[2] = max(theta[2], params.min_slope - theta[1])  # increasing above the knot
        if float(np.abs(step).max()) < 1e-10:
            break
    a, b, d = float(theta[0]), float(theta[1]), float(theta[2])
    m = RecalMap(a, b, lo, hi, params.fade_logits, d, knot)
    return Fit(m, n, wrong, n_audit, float(_sigmoid(np.array(lo))), float(_sigmoid(np.array(hi))))


def band_error(
    outcomes: Sequence[ReviewOutcome], c: float, params: RecalParams | None = None
) -> tuple[float, float, int] | None:
    """The audit's word on the error rate of unseen boxes with confidence near ``c`` (within
    ``band_logits``): ``(rate, upper95, samples)``, each sample weighted by the inverse of
    its inclusion probability (a population share), the bound Clopper-Pearson at Kish's
    effective size. ``None`` with fewer than ``min_band_samples`` samples."""
    params = params or RecalParams()
    x0 = float(logit(c))
    near = [
        o
        for o in outcomes
        if o.selection == "audit" and abs(float(logit(o.confidence)) - x0) <= params.band_logits
    ]
    if len(near) < params.min_band_samples:
        return None
    w = np.array([1.0 / o.inclusion for o in near])
    bad = np.array([0.0 if o.right else 1.0 for o in near])
    rate = float((w * bad).sum() / w.sum())
    n_eff = float(w.sum() ** 2 / (w * w).sum())
    _, hi = intervals.clopper_pearson(rate * n_eff, n_eff)
    return rate, hi, len(near)


# -- re-flagging ---------------------------------------------------------------------------


def _candidates(project: Project) -> list[tuple[int, FrameBox]]:
    return [
        (tid, b)
        for tid in sorted(project.tracks)
        for _, b in sorted(project.boxes(tid).items())
        if b.is_derived and not b.outside and not b.verified
    ]


def _reason(labels: list[tuple[float, bool]], x_sorted: FloatArray, c: float, m: int) -> str:
    """The flag reason citing the ``m`` labels nearest ``c`` in logit."""
    n = len(labels)
    m = min(m, n)
    i = int(np.searchsorted(x_sorted, float(logit(c))))
    lo, hi = max(0, i - m // 2), 0
    hi = min(n, lo + m)
    lo = max(0, hi - m)
    near = labels[lo:hi]
    wrong = sum(not r for _, r in near)
    c_lo, c_hi = near[0][0], near[-1][0]
    return (
        f"{REASON_PREFIX}: {wrong} of {len(near)} reviewed boxes at this confidence "
        f"({c_lo:.2f}\u2013{c_hi:.2f}) were wrong"
    )


@dataclass(frozen=True, slots=True)
class RecalResult:
    state: RecalState
    description: str


def target_threshold(recal: npt.ArrayLike, n_visible: int, target: float) -> float:
    """The lowest threshold on the recalibrated confidences ``recal`` of the unseen boxes
    whose predicted residual (``sum(1 - r)`` over the boxes left at or above it, over
    ``n_visible``) is at most ``target``; above every box when none is."""
    r = np.sort(np.asarray(recal, dtype=np.float64))
    if len(r) == 0:
        return 0.0
    tail = np.concatenate([np.cumsum((1.0 - r)[::-1])[::-1], [0.0]]) / max(1, n_visible)
    # a threshold keeps the boxes at or above it: only the first of equal values is a step
    uniq, first = np.unique(r, return_index=True)
    ok = np.flatnonzero(tail[first] <= target)
    return float(uniq[ok[0]]) if len(ok) else float(np.nextafter(r[-1], 2.0))


def _own(b: FrameBox) -> bool:
    return b.flagged and b.flag_reason.startswith((REASON_PREFIX, TARGET_PREFIX))


def recalibrate(
    project: Project,
    threshold: float,
    params: RecalParams | None = None,
    *,
    target: float | None = None,
) -> RecalResult:
    """Fit the map from the stored outcomes and re-flag (see the module doc), as one
    undoable step. ``threshold`` is the flag threshold in force (the engine's, or the
    quality target's if higher). With ``target`` (a residual, the project's quality
    target once the annotator applied it) the threshold rises to what the target needs
    on the *recalibrated* confidences (:func:`target_threshold`)."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"flag threshold must be in [0, 1], got {threshold}")
    if target is not None and not 0.0 < target < 1.0:
        raise ConfigError(f"target residual must be in (0, 1), got {target}")
    params = params or RecalParams()
    q = project.quality
    f = fit(q.reviews, params)
    use = usable(q.reviews)
    labels = sorted(((o.confidence, o.right) for o in use), key=lambda t: t[0])
    x_sorted = logit([c for c, _ in labels]) if labels else np.zeros(0)
    cands = _candidates(project)
    recal = f.map.apply([b.confidence for _, b in cands]) if cands else np.zeros(0)
    thr = threshold
    if target is not None and not f.map.is_identity:
        pool = [
            r for (_, b), r in zip(cands, recal.tolist(), strict=True) if not b.flagged or _own(b)
        ]
        visible = sum(1 for t in project.tracks for b in project.boxes(t).values() if not b.outside)
        thr = max(threshold, target_threshold(pool, visible, target))
    added = lifted = lifted_own = 0
    reasons: dict[float, str] = {}
    desc = f"Recalibrate confidence from {f.labels} reviews"
    with project.edit(desc) as tx:
        for (tid, b), r in zip(cands, recal.tolist(), strict=True):
            own = _own(b)
            if r < thr and not f.map.is_identity:
                if not b.flagged:
                    if b.confidence not in reasons:
                        reasons[b.confidence] = (
                            _reason(labels, x_sorted, b.confidence, params.near_labels)
                            if r < b.confidence - 0.005
                            else f"{TARGET_PREFIX} ({r:.2f} < {thr:.2f})"
                        )
                    tx.set_box(tid, b.with_(flagged=True, flag_reason=reasons[b.confidence]))
                    added += 1
                continue
            if own:  # an earlier fit's flag the new map no longer supports
                tx.set_box(tid, b.with_(flagged=False))
                lifted_own += 1
            elif (
                b.flagged
                and b.flag_reason not in RULE_REASONS
                and b.confidence < thr
                and _audit_supports(use, b.confidence, thr, params)
            ):
                tx.set_box(tid, b.with_(flagged=False))
                lifted += 1
        # which way it went where the labels are (above them it fades, see the module doc)
        shift = f.map.logit_shift([c for c, _ in labels]) if labels else np.zeros(0)
        mid = float(np.median(shift)) if len(shift) else 0.0
        direction = "lowered" if mid < -0.05 else "raised" if mid > 0.05 else "unchanged"
        prev = q.recal.flagged_total if q.recal is not None else 0
        state = RecalState(
            f.map.a,
            f.map.b,
            f.support_lo,
            f.support_hi,
            f.labels,
            f.wrong,
            f.audit_labels,
            float(thr),
            added,
            lifted + lifted_own,
            max(0, prev + added - lifted_own),
            direction,  # type: ignore[arg-type]
            f.map.d,
            params.knot,
        )
        tx.set_quality(replace(project.quality, recal=state))
    return RecalResult(state, desc)


def _audit_supports(
    use: list[ReviewOutcome], c: float, threshold: float, params: RecalParams
) -> bool:
    got = band_error(use, c, params)
    return got is not None and got[1] <= 1.0 - threshold


def flag_threshold(project: Project, engine_threshold: float) -> float:
    """The flag threshold in force: the engine's, or the quality target's when higher."""
    return max(engine_threshold, project.quality.threshold or 0.0)


def unreviewed_flags(project: Project) -> int:
    return sum(
        1 for t in project.tracks for b in project.boxes(t).values() if b.flagged and not b.verified
    )


def maybe_recalibrate(
    project: Project,
    threshold: float,
    params: RecalParams | None = None,
    *,
    target: float | None = None,
) -> RecalResult | None:
    """Run :func:`recalibrate` when it is due: ``every`` usable labels since the last run,
    or any new one once the flag queue is empty. ``None`` when not due."""
    params = params or RecalParams()
    q = project.quality
    n = len(usable(q.reviews))
    last = q.recal.labels if q.recal is not None else 0
    new = n - last
    if n < params.min_labels or new <= 0:
        return None
    if new < params.every and unreviewed_flags(project):
        return None
    return recalibrate(project, threshold, params, target=target)


# -- what it says ------------------------------------------------------------------------------


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
        "slope_change": st.d if st else 0.0,
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
