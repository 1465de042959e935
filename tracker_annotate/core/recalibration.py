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

The fit (:func:`fit`). Platt scaling on the engine's logit, ``logit P(right) = a + b
logit c``, in two pieces that meet at the knot (0.5, the engine's usual flag threshold):
the flagged range and the confident range may be off by different amounts, and their
labels come from different selections. Each piece is the MAP estimate under a Gaussian
prior centred on the identity (``a = 0``, ``b = 1``; :class:`RecalParams` says how
strongly), by Newton's method: deterministic, the same outcomes in the same order give
the same map.

Why that is unbiased, and where it is not. It is a regression of correctness *on* ``c``:
if a label's selection depends only on ``c`` (and on randomness independent of
correctness), ``P(right | c, selected) = P(right | c)`` and the conditional likelihood is
unbiased without weights, however unevenly the labels are spread over ``c``.

* Audit samples: drawn at random within confidence strata, so selection depends on ``c``
  only. They are the only labels the confident piece (``c >= knot``) learns from.
* Flag reviews: the flag rule is a function of ``c`` (and of rule signals, track ends and
  overlaps, that select besides ``c``), but *which flags survive to be judged* is not: a
  correction re-tracks the rest of its stretch away, so a box judged later in a stretch
  exists mostly because the boxes before it were right, and errors come in runs. The
  benchmark measures it (``selection_check``: on the synthetic sequence, 32% of the
  judged first-run flags were wrong where their confidence predicted 67%, against 72% of
  those re-tracked away). Flag labels therefore lean towards "right": they may *lower*
  the flagged piece (the errors they show are real), but never raise it unless
  :attr:`RecalParams.min_band_samples` audit labels are among them, and they never
  touch the confident piece.
* ``other`` verdicts are never used.

Audit samples are weighted by ``1 / inclusion`` only where the estimate is a population
share (:func:`band_error`: whether an audit band supports lifting a flag), never in the
regression (conditioning on ``c`` already accounts for the strata).

No extrapolation. Labels only say something where they are. A piece's *support* is
``[lo, hi]``, where at least :attr:`RecalParams.min_support` labels lie at or below ``lo``
and at or above ``hi``. Inside it the map is the fit. Above ``hi`` a lowering fades
linearly to nothing over :attr:`RecalParams.fade_logits` logits (with flag reviews only,
labels stop near the flag threshold, so a box at 0.99 keeps the engine's confidence), and
a raising is never extended (boxes just above ``hi`` are raised only as far as keeps the
map increasing); below ``lo`` the same, mirrored. Without audit samples at or above the
knot the confident piece is the identity and the flagged piece's faded edge is all that
moves confident boxes; with them (at least :attr:`RecalParams.min_labels`), the confident
piece takes over there.

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

from collections.abc import Sequence
from dataclasses import dataclass, replace

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

    ``prior_sd_a`` / ``prior_sd_b``: prior spread of each piece's intercept and slope
    around the identity; ``knot``: the confidence where the flagged range's piece meets
    the confident range's (the engine's usual flag threshold).
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
        for name in ("prior_sd_a", "prior_sd_b", "min_slope", "band_logits"):
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
    """One piece: ``logit P = a + b logit c`` on the support ``[lo, hi]`` (logits), faded
    outside it (see the module doc). The identity has ``a = 0, b = 1``."""

    a: float = 0.0
    b: float = 1.0
    lo: float = 0.0
    hi: float = 0.0
    fade: float = 2.0

    @property
    def is_identity(self) -> bool:
        return self.a == 0.0 and self.b == 1.0

    def logit_shift(self, c: npt.ArrayLike) -> FloatArray:
        """How far the map moves each confidence, in logits (negative: lowered)."""
        x = logit(c)
        return self.map_logit(x) - x

    def map_logit(self, x: FloatArray) -> FloatArray:
        a, b, lo, hi, fade = self.a, self.b, self.lo, self.hi, self.fade
        out = a + b * x
        s_hi = a + (b - 1.0) * hi  # shift at the top edge of the support
        above = x > hi
        if s_hi <= 0:
            w = np.clip(1.0 - (x - hi) / fade, 0.0, 1.0) if fade > 0 else np.zeros_like(x)
            out = np.where(above, x + s_hi * w, out)
        else:
            out = np.where(above, np.maximum(x, hi + s_hi), out)
        s_lo = a + (b - 1.0) * lo
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
        out = _sigmoid(self.map_logit(logit(arr)))
        return np.where((arr <= 0.0) | (arr >= 1.0), arr, out)


@dataclass(frozen=True, slots=True)
class TwoPieceMap:
    """The flagged range (``c < knot``) and the confident range each with its own piece.
    With no audit labels above the knot the high piece is the identity and the low
    piece (faded past its labels) serves both; the pieces are clamped at the knot so the
    map keeps increasing."""

    low: RecalMap = RecalMap()
    high: RecalMap = RecalMap()
    knot: float = 0.0  # logit

    @property
    def a(self) -> float:
        return self.low.a

    @property
    def b(self) -> float:
        return self.low.b

    @property
    def is_identity(self) -> bool:
        return self.low.is_identity and self.high.is_identity

    def map_logit(self, x: FloatArray) -> FloatArray:
        lo_x = self.low.map_logit(x)
        if self.high.is_identity:
            return lo_x
        k = np.array([self.knot])
        at_k_lo, at_k_hi = float(self.low.map_logit(k)[0]), float(self.high.map_logit(k)[0])
        hi_x = self.high.map_logit(x)
        out = np.where(x < self.knot, np.minimum(lo_x, at_k_hi), np.maximum(hi_x, at_k_lo))
        return np.asarray(out, dtype=np.float64)

    def logit_shift(self, c: npt.ArrayLike) -> FloatArray:
        x = logit(c)
        return self.map_logit(x) - x

    def apply(self, c: npt.ArrayLike) -> FloatArray:
        arr = np.asarray(c, dtype=np.float64)
        if self.is_identity:
            return arr.copy()
        out = _sigmoid(self.map_logit(logit(arr)))
        return np.where((arr <= 0.0) | (arr >= 1.0), arr, out)


def map_of(state: RecalState | None, params: RecalParams | None = None) -> TwoPieceMap:
    """The map a stored recalibration applies (the identity when there is none)."""
    if state is None:
        return TwoPieceMap()
    fade = (params or RecalParams()).fade_logits
    low = RecalMap(
        state.a, state.b, float(logit(state.support_lo)), float(logit(state.support_hi)), fade
    )
    high = RecalMap(
        state.a_hi,
        state.b_hi,
        float(logit(state.hi_support_lo)),
        float(logit(state.hi_support_hi)),
        fade,
    )
    return TwoPieceMap(low, high, float(logit(state.knot)))


# -- the fit --------------------------------------------------------------------------------


def usable(outcomes: Sequence[ReviewOutcome]) -> list[ReviewOutcome]:
    """The outcomes the fit may use: selected by a flag or the audit, never ``other``."""
    return [o for o in outcomes if o.selection != "other"]


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted map and what it rests on (``support_*``: the low piece's labels,
    ``hi_support_*``: the high piece's, engine confidences)."""

    map: TwoPieceMap
    labels: int
    wrong: int
    audit_labels: int
    support_lo: float
    support_hi: float
    hi_support_lo: float = 0.5
    hi_support_hi: float = 0.5


def _platt(use: list[ReviewOutcome], params: RecalParams) -> tuple[RecalMap, float, float] | None:
    """The MAP piece on these labels and its support (engine confidences); ``None`` with
    fewer than ``min_labels``."""
    n = len(use)
    if n < params.min_labels:
        return None
    x = logit([o.confidence for o in use])
    y = np.array([1.0 if o.right else 0.0 for o in use])
    k = min(params.min_support, n)
    xs = np.sort(x)
    lo, hi = float(xs[k - 1]), float(xs[n - k])
    prior_mean = np.array([0.0, 1.0])
    prec = np.diag([1.0 / params.prior_sd_a**2, 1.0 / params.prior_sd_b**2])
    design = np.stack([np.ones(n), x], axis=1)
    theta = prior_mean.copy()
    for _ in range(100):
        p = _sigmoid(design @ theta)
        grad = design.T @ (p - y) + prec @ (theta - prior_mean)
        w = p * (1.0 - p)
        hess = design.T @ (design * w[:, None]) + prec
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        theta[1] = max(theta[1], params.min_slope)
        if float(np.abs(step).max()) < 1e-10:
            break
    piece = RecalMap(float(theta[0]), float(theta[1]), lo, hi, params.fade_logits)
    return piece, float(_sigmoid(np.array(lo))), float(_sigmoid(np.array(hi)))


def fit(outcomes: Sequence[ReviewOutcome], params: RecalParams | None = None) -> Fit:
    """The MAP two-piece map from the usable outcomes (see the module doc). Deterministic.

    Low piece (``c < knot``): flag and audit labels there; it may not *raise* the
    confidence unless ``min_band_samples`` audit labels are among them (flag labels are
    biased towards right ones, see the module doc). High piece: audit labels at or above
    the knot only (random samples); the identity with fewer than ``min_labels``."""
    params = params or RecalParams()
    use = usable(outcomes)
    n = len(use)
    wrong = sum(not o.right for o in use)
    n_audit = sum(o.selection == "audit" for o in use)
    knot = float(logit(params.knot))
    low_use = [o for o in use if o.confidence < params.knot]
    high_use = [o for o in use if o.confidence >= params.knot and o.selection == "audit"]
    low = _platt(low_use, params)
    high = _platt(high_use, params)
    ident = RecalMap(fade=params.fade_logits)
    low_piece, s_lo, s_hi = low if low is not None else (ident, 0.5, 0.5)
    if low is not None:
        mid = float(np.median(low_piece.logit_shift([o.confidence for o in low_use])))
        audited = sum(o.selection == "audit" for o in low_use)
        if mid > 0 and audited < params.min_band_samples:
            low_piece = ident  # no raising on flag labels alone
    high_piece, h_lo, h_hi = high if high is not None else (ident, 0.5, 0.5)
    return Fit(TwoPieceMap(low_piece, high_piece, knot), n, wrong, n_audit, s_lo, s_hi, h_lo, h_hi)


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
            f.map.high.a,
            f.map.high.b,
            f.hi_support_lo,
            f.hi_support_hi,
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
