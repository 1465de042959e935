"""Review you can trust: a quality target, a random audit and what it says is left wrong.

The *unseen* boxes are the derived boxes (tracked, interpolated, imported) that are visible,
not verified and not flagged: nobody will look at them unless the audit picks them. Only
the tracks of :func:`~tracker_annotate.core.proposals.review_track_ids` count (a proposed
object is in the population once accepted).

Quality target. From calibrated confidences the expected number of wrong unseen boxes is
``sum(1 - c)``. :func:`predict_curve` gives it for every flag threshold ``t`` (a box is
flagged when the engine flagged it or its confidence is ``< t``), with the flags, stretches
and review seconds that threshold costs; :func:`choose_threshold` picks the lowest
threshold meeting a target residual (share of all visible boxes), or the highest one a
review budget affords.

Audit. :func:`draw_audit` samples the unseen boxes in two strata: the *medium band*
(the lowest-confidence unseen boxes that together carry half of the predicted wrong) and
the *rest*; half of the samples go to each (the rest part is a uniform random sample of
it), so the audit both looks where errors should be and checks the calibration where
nobody expects any. The draw is seeded (``numpy.random.default_rng``) over boxes sorted by
``(track_id, frame)``: the same seed on the same project gives the same samples.

Estimate (:func:`estimate`). The error rate of the unseen boxes is the stratified
estimator ``p = sum_h W_h x_h / n_h`` (``W_h = N_h / N``). Its 95% interval:

* one stratum: the exact hypergeometric interval (finite population, no approximation);
* several: Korn & Graubard (1998): a Clopper-Pearson interval at the effective sample size
  ``n_eff = p (1 - p) / var(p)`` (with the finite-population correction; when no stratum
  saw an error, ``n_eff = 1 / sum W_h^2 (1 - f_h) / n_h``), capped at ``n / (1 - n/N)``,
  the effective size of an unstratified sample of the same size (Korn & Graubard's
  truncation, with the finite-population correction).

The residual is that rate times the unseen boxes over all visible boxes.

Loop (:func:`loop_step`). When the interval's upper end is above the target, the flag
threshold *rises* (more boxes flagged, reviewed, and out of the unseen population): the
new one is the lowest whose prediction meets the target scaled down by how optimistic the
confidences proved (audited upper end / predicted). After the review a new round is
drawn; the audit is done when the upper end is at or below the target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from tracker_annotate.core import intervals, review_log
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import Project
from tracker_annotate.core.proposals import review_track_ids
from tracker_annotate.core.quality import (
    OUTCOMES,
    AuditRound,
    AuditSample,
    Outcome,
    Stratum,
)
from tracker_annotate.core.track_boxes import (
    FLAGGED,
    MANUAL_CODE,
    OUTSIDE,
    VERIFIED,
    BoxColumns,
    FloatArray,
    IntArray,
)

LEVEL = 0.95
#: :func:`predict_curve` evaluates at most this many thresholds (spread over the distinct
#: confidences), so a million boxes cost milliseconds.
MAX_THRESHOLDS = 1024
#: Reason given to boxes the quality target flags.
TARGET_REASON = "below the quality target's threshold"
#: Reason given to an audit sample found wrong and not corrected on the spot.
WRONG_REASON = "found wrong by the audit"


@dataclass(frozen=True, slots=True)
class ReviewCosts:
    """Seconds per review action (the benchmark's defaults, :class:`bench.costs.CostModel`).

    ``watch_s``: one box seen in a stretch's playback; ``verify_s``: accepting a stretch
    (or an audit sample); ``correct_s``: redrawing a box."""

    watch_s: float = 0.2
    verify_s: float = 1.6
    correct_s: float = 7.0


# -- population and prediction -----------------------------------------------------------


def _candidates(c: BoxColumns) -> npt.NDArray[np.bool_]:
    """Derived visible boxes nobody verified (per row): what a threshold may flag or
    leave unseen."""
    out: npt.NDArray[np.bool_] = (c.source != MANUAL_CODE) & ((c.flags & (VERIFIED | OUTSIDE)) == 0)
    return out


def n_visible(project: Project) -> int:
    """Visible (not outside) boxes of every source: the residual's denominator."""
    return sum(
        int(np.count_nonzero(~project.columns(t).outside)) for t in review_track_ids(project)
    )


def unseen_columns(project: Project) -> tuple[IntArray, IntArray, FloatArray]:
    """``(track_ids, frames, confidences)`` of every unseen box (threshold 0), sorted by
    ``(track_id, frame)``: :func:`unseen_boxes` without a tuple per box."""
    parts = []
    for tid in review_track_ids(project):
        c = project.columns(tid)
        m = _candidates(c) & ~c.flagged
        parts.append((np.full(int(m.sum()), tid, dtype=np.int64), c.frame[m], c.confidence[m]))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    t, f, conf = (np.concatenate(x) for x in zip(*parts, strict=True))
    return t, f, conf


def unseen_boxes(project: Project, threshold: float = 0.0) -> list[tuple[int, int, float]]:
    """``(track_id, frame, confidence)`` of every unseen box at ``threshold``, sorted by
    ``(track_id, frame)``."""
    t, f, c = unseen_columns(project)
    keep = c >= threshold
    return list(zip(t[keep].tolist(), f[keep].tolist(), c[keep].tolist(), strict=True))


@dataclass(frozen=True, slots=True)
class Prediction:
    """What flagging at ``threshold`` leads to, predicted from the confidences."""

    threshold: float
    flagged: int
    stretches: int
    expected_wrong: float  # expected wrong unseen boxes
    residual: float  # expected_wrong / visible boxes
    review_s: float

    def summary(self) -> str:
        return (
            f"flag {self.flagged} boxes in {self.stretches} stretches → expected "
            f"≤ {100 * self.residual:.1f}% left wrong"
        )


def predict_curve(project: Project, costs: ReviewCosts | None = None) -> list[Prediction]:
    """A :class:`Prediction` for threshold 0 (the engine's flags only), for each distinct
    confidence of an unflagged candidate box, and for flagging every candidate; in
    increasing threshold order."""
    costs = costs or ReviewCosts()
    k_parts: list[FloatArray] = []  # -1 = flagged whatever the threshold
    c_parts: list[FloatArray] = []
    p_parts: list[FloatArray] = []
    for tid in review_track_ids(project):
        c = project.columns(tid)
        cand = _candidates(c)
        k = np.where(c.flagged, -1.0, c.confidence)
        # a pair: two candidates on consecutive frames, next to each other in the track
        pair = cand[1:] & cand[:-1] & (c.frame[1:] == c.frame[:-1] + 1)
        k_parts.append(k[cand])
        c_parts.append(c.confidence[cand])
        p_parts.append(np.maximum(k[1:], k[:-1])[pair])
    k_arr, conf, pair_keys = (
        np.concatenate([np.zeros(0), *x]) for x in (k_parts, c_parts, p_parts)
    )
    total = max(1, n_visible(project))
    order = np.argsort(k_arr, kind="stable")
    k_sorted = k_arr[order]
    err_sorted = 1.0 - conf[order]
    # expected wrong left when boxes [i:] stay unflagged
    tail = np.concatenate([np.cumsum(err_sorted[::-1])[::-1], [0.0]])
    head = np.concatenate([[0.0], np.cumsum(err_sorted)])
    pairs = np.sort(pair_keys)
    # threshold 1.0 means "flag every candidate" (the last point), so 1.0 is not a step
    uniq = np.unique(k_sorted[(k_sorted > 0) & (k_sorted < 1.0)])
    if len(uniq) > MAX_THRESHOLDS:  # finer steps than this change nothing a user can see
        uniq = uniq[np.linspace(0, len(uniq) - 1, MAX_THRESHOLDS).round().astype(int)]
    top = float(np.nextafter(1.0, 2.0))
    t_arr = np.concatenate([[0.0], uniq, [top]])
    i = np.searchsorted(k_sorted, t_arr, side="left")
    n_pairs = np.searchsorted(pairs, t_arr, side="left")
    stretches = i - n_pairs
    wrong_flagged = head[i]
    review = (
        costs.watch_s * i
        + costs.verify_s * stretches
        + (costs.correct_s - costs.verify_s) * np.minimum(wrong_flagged, stretches)
    )
    left = tail[i]
    out = [
        Prediction(min(float(t), 1.0), int(n), int(m), float(e), float(e) / total, float(r))
        for t, n, m, e, r in zip(t_arr, i, stretches, left, review, strict=True)
    ]
    return out


def choose_threshold(
    project: Project,
    *,
    target: float | None = None,
    budget_s: float | None = None,
    costs: ReviewCosts | None = None,
) -> Prediction:
    """The lowest threshold whose predicted residual is ``<= target``, or (with
    ``budget_s``) the highest whose predicted review fits the budget. Exactly one of the
    two must be given."""
    if (target is None) == (budget_s is None):
        raise ConfigError("give exactly one of a target residual or a review budget")
    curve = predict_curve(project, costs)
    if target is not None:
        return pick_for_target(curve, target)
    assert budget_s is not None
    if budget_s < 0:
        raise ConfigError(f"review budget must be >= 0 seconds, got {budget_s}")
    fits = [p for p in curve if p.review_s <= budget_s]
    return fits[-1] if fits else curve[0]


def pick_for_target(curve: list[Prediction], target: float) -> Prediction:
    """The lowest-threshold point of ``curve`` whose predicted residual is ``<= target``."""
    if not 0.0 <= target < 1.0:
        raise ConfigError(f"target residual must be in [0, 1), got {target}")
    return next((p for p in curve if p.residual <= target), curve[-1])


def apply_threshold(project: Project, threshold: float, description: str = "") -> int:
    """Flag every unflagged candidate box with confidence ``< threshold`` (threshold 1:
    every one) and record the threshold in the project's quality state, as one undoable
    edit. Returns boxes flagged. Flags are only added."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"flag threshold must be in [0, 1], got {threshold}")
    n = 0
    every = threshold >= 1.0
    with project.edit(description or f"Flag below confidence {threshold:.3f}") as tx:
        for tid in review_track_ids(project):
            c = project.columns(tid)
            pick = _candidates(c) & ~c.flagged & ((c.confidence < threshold) | every)
            boxes = project.boxes(tid)
            for f in c.frame[pick].tolist():
                tx.set_box(tid, boxes[f].with_(flagged=True, flag_reason=TARGET_REASON))
                n += 1
        tx.set_quality(replace(project.quality, threshold=threshold))
    return n


def set_target(project: Project, target: float) -> None:
    """Set the quality target (share of visible boxes allowed wrong and unseen)."""
    if not 0.0 < target < 1.0:
        raise ConfigError(f"quality target must be in (0, 1), got {target}")
    with project.edit(f"Set quality target {100 * target:g}%") as tx:
        tx.set_quality(replace(project.quality, target=target))


# -- the audit ----------------------------------------------------------------------------


def sample_size(population: int, n_boxes: int, target: float, level: float = LEVEL) -> int:
    """Samples needed so that, if none is wrong, the exact upper bound of the residual is
    at most ``target`` (capped at the population)."""
    if population <= 0:
        return 0
    rate = target * n_boxes / population  # the unseen error rate the target allows
    if rate >= 1.0:
        return min(population, 1)
    n = math.ceil(math.log((1 - level) / 2) / math.log1p(-rate))
    return int(min(population, max(1, n)))


def _split_medium(confs: np.ndarray) -> int:
    """How many of the lowest-confidence boxes (``confs`` sorted ascending) carry the
    first half of the predicted wrong; 0 when nothing is predicted wrong."""
    err = 1.0 - confs
    total = float(err.sum())
    if total <= 0 or len(confs) < 2:
        return 0
    cut = int(np.searchsorted(np.cumsum(err), total / 2, side="left")) + 1
    return min(cut, len(confs) - 1)


def draw_audit(
    project: Project,
    n: int,
    seed: int,
    *,
    threshold: float | None = None,
    medium_share: float = 0.5,
) -> AuditRound:
    """Draw ``n`` unseen boxes (see the module doc) with ``seed``; pure, no edit."""
    if n < 0:
        raise ConfigError(f"audit sample size must be >= 0, got {n}")
    if not 0.0 <= medium_share <= 1.0:
        raise ConfigError(f"medium_share must be in [0, 1], got {medium_share}")
    thr = threshold if threshold is not None else (project.quality.threshold or 0.0)
    pop_t, pop_f, confs = unseen_columns(project)
    if not confs.size:
        raise ProjectError("nothing to audit: every visible derived box is flagged or verified")
    # rank by confidence, ties by (track, frame): the population list is already in that order
    by_conf = np.argsort(confs, kind="stable")
    cut = _split_medium(confs[by_conf])
    groups = [by_conf[:cut], by_conf[cut:]] if cut else [by_conf]
    names = ["medium band", "rest"] if cut else ["all"]
    n = min(n, len(confs))
    if len(groups) == 2:
        want = [round(n * medium_share), n - round(n * medium_share)]
        for h in (0, 1):  # a stratum too small passes its surplus to the other
            extra = want[h] - len(groups[h])
            if extra > 0:
                want[h] -= extra
                want[1 - h] += extra
    else:
        want = [n]
    rng = np.random.default_rng(seed)
    strata: list[Stratum] = []
    drawn: list[AuditSample] = []
    for h, (g, k) in enumerate(zip(groups, want, strict=True)):
        c = confs[g]
        strata.append(Stratum(names[h], float(c.min()), float(c.max()), len(g)))
        for idx in np.sort(rng.choice(len(g), size=k, replace=False)):
            i = int(g[int(idx)])
            drawn.append(AuditSample(int(pop_t[i]), int(pop_f[i]), h))
    walk = rng.permutation(len(drawn))  # interleave strata: a half-done audit covers both
    return AuditRound(
        seed, thr, n_visible(project), tuple(strata), tuple(drawn[int(i)] for i in walk)
    )


def start_audit(
    project: Project, *, seed: int, n: int | None = None, force: bool = False
) -> AuditRound:
    """Draw a round (``n`` defaults to :func:`sample_size` for the project's target) and
    store it in the project as one undoable edit. Refused while flags are unreviewed
    unless ``force``: the audit measures what is left after the review."""
    flagged = sum(
        int(np.count_nonzero((project.columns(t).flags & (FLAGGED | VERIFIED)) == FLAGGED))
        for t in review_track_ids(project)
    )
    if flagged and not force:
        raise ProjectError(
            f"{flagged} flagged boxes are still unreviewed; review them (or force the audit: "
            f"it then measures only the unflagged boxes)"
        )
    if n is None:
        pop = len(unseen_columns(project)[2])
        n = sample_size(pop, n_visible(project), project.quality.target)
    rnd = draw_audit(project, n, seed)
    q = project.quality
    with project.edit(f"Start audit ({len(rnd.samples)} samples, seed {seed})") as tx:
        tx.set_quality(replace(q, rounds=(*q.rounds, rnd)))
    return rnd


def record_outcome(project: Project, track_id: int, frame: int, outcome: Outcome | None) -> None:
    """Record (or, with ``None``, clear) the outcome of the current round's sample on
    ``(track_id, frame)``; undoable. Joins an open edit (accepting the box and recording
    its outcome is one step)."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ProjectError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    q = project.quality
    if not q.rounds:
        raise ProjectError("no audit has been started")
    rnd = q.rounds[-1]
    hit = rnd.sample_at(track_id, frame)
    if hit is None:
        raise ProjectError(f"track {track_id} frame {frame} is not an audit sample")
    samples = tuple(replace(s, outcome=outcome) if s is hit else s for s in rnd.samples)
    new = replace(rnd, samples=samples)
    with project.edit(f"Audit: {outcome or 'unchecked'}") as tx:
        # the verdict is a label for the recalibration too (while the box is as drawn)
        review_log.note_audit(
            project, track_id, frame, None if outcome is None else outcome == "ok"
        )
        tx.set_quality(replace(project.quality, rounds=(*q.rounds[:-1], new)))


def current_round(project: Project) -> AuditRound | None:
    return project.quality.rounds[-1] if project.quality.rounds else None


def pending_samples(project: Project) -> list[AuditSample]:
    """The current round's unchecked samples, in walk order."""
    rnd = current_round(project)
    return [s for s in rnd.samples if s.outcome is None] if rnd is not None else []


def next_sample(
    project: Project, frame: int, track_id: int | None, *, backward: bool = False
) -> tuple[int, int] | None:
    """The unchecked sample after (before) the one at ``(frame, track_id)`` in walk order,
    or the first (last) one; ``(frame, track_id)`` or ``None`` when all are checked."""
    # a sample whose box is gone (deleted, re-tracked away) cannot be checked: skipped
    pending = [s for s in pending_samples(project) if project.box(s.track_id, s.frame)]
    if not pending:
        return None
    keys = [(s.frame, s.track_id) for s in pending]
    cur = (frame, track_id)
    if cur in keys:
        i = keys.index(cur) + (-1 if backward else 1)
        return keys[i] if 0 <= i < len(keys) else None
    rnd = current_round(project)
    assert rnd is not None
    walk = [(s.frame, s.track_id) for s in rnd.samples]
    if cur in walk:  # just checked: continue from its place in the walk
        pos = walk.index(cur)
        order = walk[pos + 1 :] if not backward else walk[:pos][::-1]
        for k in order:
            if k in keys:
                return k
        return None
    return keys[-1] if backward else keys[0]


# -- the estimate --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEstimate:
    """What the checked samples say about the unseen boxes. ``rate*``: error rate among
    the unseen boxes; ``residual*``: wrong unseen boxes over all visible boxes."""

    drawn: int
    checked: int
    wrong: int
    rate: float
    rate_lo: float
    rate_hi: float
    residual: float
    residual_lo: float
    residual_hi: float
    population: int
    n_boxes: int
    method: str
    level: float = LEVEL

    @property
    def complete(self) -> bool:
        return self.checked == self.drawn

    def summary(self) -> str:
        pct = 100 * self.level
        return (
            f"Audit: {self.checked} checked, {self.wrong} wrong → ≈ {100 * self.residual:.1f}% "
            f"left ({100 * self.residual_lo:.1f}–{100 * self.residual_hi:.1f}%, {pct:g}%)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "drawn": self.drawn,
            "checked": self.checked,
            "wrong": self.wrong,
            "complete": self.complete,
            "unseen_error_rate": self.rate,
            "unseen_error_rate_interval": [self.rate_lo, self.rate_hi],
            "residual": self.residual,
            "residual_interval": [self.residual_lo, self.residual_hi],
            "unseen_boxes": self.population,
            "visible_boxes": self.n_boxes,
            "interval_method": self.method,
            "level": self.level,
        }


METHOD_EXACT = "exact hypergeometric (one stratum)"
METHOD_KG = "stratified, Korn-Graubard effective-sample-size Clopper-Pearson"


def stratified_interval(
    populations: Iterable[int],
    checked: Iterable[int],
    wrong: Iterable[int],
    level: float = LEVEL,
) -> tuple[float, float, float, str]:
    """``(rate, lo, hi, method)`` for the error rate of a stratified population; every
    stratum with boxes needs at least one checked sample."""
    big_n = np.asarray(list(populations), dtype=np.float64)
    n = np.asarray(list(checked), dtype=np.float64)
    x = np.asarray(list(wrong), dtype=np.float64)
    keep = big_n > 0
    big_n, n, x = big_n[keep], n[keep], x[keep]
    if len(big_n) == 0 or np.any(n <= 0) or np.any(x > n) or np.any(n > big_n):
        raise ConfigError("every non-empty stratum needs 1..N_h checked samples and x_h <= n_h")
    if len(big_n) == 1:
        d_lo, d_hi = intervals.hypergeometric(int(x[0]), int(n[0]), int(big_n[0]), level)
        return float(x[0] / n[0]), d_lo / big_n[0], d_hi / big_n[0], METHOD_EXACT
    w = big_n / big_n.sum()
    p_h = x / n
    f = n / big_n
    p = float((w * p_h).sum())
    s2 = np.where(n > 1, p_h * (1 - p_h) * n / np.maximum(n - 1, 1), p_h * (1 - p_h))
    var = float((w * w * (1 - f) * s2 / n).sum())
    zero_var = float((w * w * (1 - f) / n).sum())
    if zero_var <= 0:  # every stratum fully checked: the rate is known
        return p, p, p, METHOD_KG
    n_total = float(n.sum())
    cap = n_total / max(1e-12, 1.0 - n_total / float(big_n.sum()))
    n_eff = p * (1 - p) / var if var > 0 else 1.0 / zero_var
    n_eff = min(n_eff, cap)
    lo, hi = intervals.clopper_pearson(p * n_eff, n_eff, level)
    return p, lo, hi, METHOD_KG


def estimate(rnd: AuditRound, level: float = LEVEL) -> AuditEstimate | None:
    """The estimate from the round's checked samples, or ``None`` while some non-empty
    stratum has no checked sample."""
    k = len(rnd.strata)
    checked = [0] * k
    wrong = [0] * k
    for s in rnd.samples:
        if s.outcome is not None:
            checked[s.stratum] += 1
            wrong[s.stratum] += s.outcome == "wrong"
    pops = [s.population for s in rnd.strata]
    if any(p > 0 and c == 0 for p, c in zip(pops, checked, strict=True)):
        return None
    rate, lo, hi, method = stratified_interval(pops, checked, wrong, level)
    share = rnd.population / max(1, rnd.n_boxes)
    return AuditEstimate(
        len(rnd.samples),
        sum(checked),
        sum(wrong),
        rate,
        lo,
        hi,
        rate * share,
        lo * share,
        hi * share,
        rnd.population,
        rnd.n_boxes,
        method,
        level,
    )


@dataclass(frozen=True, slots=True)
class LoopStep:
    """What the audit loop says to do next: ``"start"`` (no round yet), ``"check"``
    (samples left), ``"flag_more"`` (upper end above target: raise the threshold to
    ``threshold``, review, audit again) or ``"done"``."""

    action: Literal["start", "check", "flag_more", "done"]
    threshold: float | None = None
    message: str = ""


def loop_step(project: Project, costs: ReviewCosts | None = None) -> LoopStep:
    """The audit loop's rule applied to the project's current state."""
    q = project.quality
    rnd = current_round(project)
    if rnd is None:
        return LoopStep("start", message="no audit yet: review the flags, then start one")
    if (q.threshold or 0.0) > rnd.threshold:
        return LoopStep(
            "start",
            message=f"the flag threshold rose to {q.threshold:.3f} after the last audit: "
            f"review the new flags, then start a new audit round",
        )
    est = estimate(rnd)
    left = len(pending_samples(project))
    if left:
        return LoopStep("check", message=f"{left} of {len(rnd.samples)} audit samples to check")
    assert est is not None
    if est.residual_hi <= q.target:
        return LoopStep("done", message=f"{est.summary()}: target {100 * q.target:g}% met")
    # the audit says the confidences are optimistic by residual_hi / predicted: aim lower
    curve = predict_curve(project, costs)
    now = curve[0]  # the flags as they are: what the audit measured
    ratio = est.residual_hi / max(now.residual, 1e-12)
    aim = q.target / max(ratio, 1.0)
    new = next((p for p in curve if p.residual <= aim and p.threshold > rnd.threshold), None)
    if new is None:
        higher = [p for p in curve if p.threshold > rnd.threshold]
        new = higher[0] if higher else curve[-1]
    return LoopStep(
        "flag_more",
        new.threshold,
        f"{est.summary()}: above the {100 * q.target:g}% target; flag below "
        f"{new.threshold:.3f} ({new.summary()}) and audit again",
    )


def check_sample(
    project: Project,
    track_id: int,
    frame: int,
    outcome: Outcome,
    corrected: BoxXYXY | None = None,
) -> None:
    """A human's verdict on an audit sample, as one undoable edit: ``"ok"`` verifies the
    box; ``"wrong"`` replaces it by ``corrected`` (a manual keyframe) or, without one,
    flags it for the review queue. The outcome is recorded either way."""
    box = project.box(track_id, frame)
    if box is None:
        raise ProjectError(f"track {track_id} has no box on frame {frame} to check")
    with project.edit(f"Audit: track {track_id} frame {frame} {outcome}") as tx:
        record_outcome(project, track_id, frame, outcome)  # first: it reads the box as drawn
        if outcome == "ok":
            tx.set_box(track_id, box.with_(verified=True, flagged=False, flag_reason=""))
        elif corrected is not None:
            tx.set_box(
                track_id,
                FrameBox(frame, corrected, BoxSource.MANUAL, 1.0, occluded=box.occluded),
            )
        else:
            tx.set_box(track_id, box.with_(flagged=True, flag_reason=WRONG_REASON))
