"""One audit over many projects: the dataset's unseen boxes as one stratified population.

Population. The unseen boxes (:func:`tracker_annotate.core.audit.unseen_boxes`) of every
project, stratified by *video* (project) and by *confidence band*. The band edges are
dataset-wide: :data:`BANDS` bands that each carry an equal share of the predicted wrong
(``sum(1 - c)``), so a band means the same confidence range in every video.

Allocation (:func:`allocate`). Neyman: ``n_h`` proportional to ``N_h * S_h`` with
``S_h = sqrt(q_h (1 - q_h))`` and ``q_h`` the stratum's mean predicted error
``mean(1 - c)``, floored at :data:`RATE_FLOOR` (the confidence is over-sure on unseen
video, so no stratum is assumed perfect); every non-empty stratum gets at least one sample
so the estimator is defined; no stratum more than its size.

Estimate. The stratified estimator and its Korn-Graubard Clopper-Pearson interval
(:func:`tracker_annotate.core.audit.stratified_interval`) over the ``(project, band)``
strata; the residual is the rate times the dataset's unseen over its visible boxes.

Acceptance (:class:`AcceptancePlan`). A group-sequential acceptance test in the spirit of
acceptance sampling (Klie et al. 2024, arXiv 2405.11919): the question is "is the
dataset's residual at most the target?", one-sided, not "what is the residual to +-e".
The samples of every stratum are split into :data:`LOOKS` stages fixed at the draw (stage
``k`` holds the first ``ceil(k n_h / K)`` of each stratum, in the stratum's random walk
order; the walk order of a project visits stage 1 first). At look ``k`` (every sample of
stages ``<= k`` checked) the audit

* *accepts* when the one-sided upper bound at level ``1 - alpha_k`` is at or below the
  target; the alphas are ``interim_alpha`` at each interim look and the rest of ``risk`` at
  the last (Bonferroni: their sum is ``risk``);
* *rejects* early (curtailment) when the two-sided 95% interval lies above the target;
* at the last look, rejects when it did not accept.

Guarantee: if the dataset's unseen boxes are wrong at a rate above what the target
allows, the probability that the audit round accepts, at whichever look, is at most
``risk`` (5%), as far as each look's bound holds its level. The union bound needs no
independence between looks; rejecting early only lowers the chance of accepting, so it
costs nothing. The Korn-Graubard bound is an approximation for stratified samples: its
coverage is measured by simulation (``tests/core/test_dataset_audit.py``,
``benchmarks/dataset_audit_coverage.py``). Each round is one test of the state drawn; a
loop of rounds (flag more, audit again) tests a new population each time.

Every draw is seeded (``numpy.random.default_rng``) over projects in the order given and
boxes sorted by ``(track_id, frame)``: same seed, same projects, same samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tracker_annotate.core import audit
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import Project
from tracker_annotate.core.quality import AuditRound, AuditSample, Stratum

LEVEL = 0.95
#: Confidence bands per video.
BANDS = 3
#: Looks of the sequential acceptance test.
LOOKS = 4
#: Lowest error rate the allocation assumes for a stratum (see the module doc).
RATE_FLOOR = 0.01


@dataclass(frozen=True, slots=True)
class AcceptancePlan:
    """The sequential acceptance test. ``risk``: the consumer's risk, the most probability
    of accepting a dataset worse than the target (0.05: a 95% guarantee). ``looks``: how
    many times the test may stop; more looks stop earlier on a good dataset but leave less
    ``risk`` for the last look, which then needs more samples. ``interim_alpha``: the risk
    spent at each look before the last (small: an early stop must be clear-cut)."""

    risk: float = 0.05
    looks: int = LOOKS
    interim_alpha: float = 0.005

    def __post_init__(self) -> None:
        if not 0.0 < self.risk < 0.5:
            raise ConfigError(f"acceptance risk must be in (0, 0.5), got {self.risk}")
        if self.looks < 1:
            raise ConfigError(f"acceptance looks must be >= 1, got {self.looks}")
        if self.interim_alpha < 0 or (self.looks - 1) * self.interim_alpha >= self.risk:
            raise ConfigError(
                f"interim_alpha {self.interim_alpha} x {self.looks - 1} interim looks must "
                f"leave part of the risk {self.risk} for the last look"
            )

    @property
    def alphas(self) -> tuple[float, ...]:
        last = self.risk - (self.looks - 1) * self.interim_alpha
        return (*([self.interim_alpha] * (self.looks - 1)), last)


# -- population, bands, allocation ----------------------------------------------------------


def band_edges(confs: np.ndarray, bands: int = BANDS) -> tuple[float, ...]:
    """``bands - 1`` increasing interior edges over the pooled confidences, each band
    holding an equal share of the predicted wrong ``sum(1 - c)`` (fewer when ties or no
    predicted error leave nothing to split)."""
    c = np.sort(np.asarray(confs, dtype=np.float64))
    err = np.cumsum(1.0 - c)
    if len(c) < 2 or err[-1] <= 0 or bands < 2:
        return ()
    edges: list[float] = []
    for k in range(1, bands):
        i = int(np.searchsorted(err, err[-1] * k / bands, side="left")) + 1
        if i < len(c):
            e = float(c[i])
            if e > c[0] and (not edges or e > edges[-1]):
                edges.append(e)
    return tuple(edges)


def band_of(confs: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Band index (0 = least confident) of each confidence."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), confs, side="right")


def allocate(populations: Sequence[int], rates: Sequence[float], n: int) -> list[int]:
    """Neyman allocation of ``n`` samples (see the module doc); at least one per non-empty
    stratum, at most ``N_h``. ``n`` is raised to the number of non-empty strata and capped
    at the population."""
    pops = np.asarray(populations, dtype=np.int64)
    q = np.maximum(np.asarray(rates, dtype=np.float64), RATE_FLOOR)
    w = pops * np.sqrt(q * (1.0 - np.minimum(q, 0.5)))
    alloc = (pops > 0).astype(np.int64)
    left = min(max(n, int(alloc.sum())), int(pops.sum())) - int(alloc.sum())
    while left > 0:
        room = pops - alloc
        share = np.where(room > 0, w, 0.0)
        if share.sum() <= 0:
            share = room.astype(np.float64)
        ideal = left * share / share.sum()
        add = np.minimum(np.floor(ideal).astype(np.int64), room)
        if add.sum() == 0:  # the remainder: to the largest unmet share, lowest index on ties
            add[int(np.argmax(np.where(room > 0, ideal, -1.0)))] = 1
        alloc += add
        left -= int(add.sum())
    return [int(a) for a in alloc]


@dataclass(frozen=True, slots=True)
class ProjectPopulation:
    """One project's part: its unseen boxes by band and its visible boxes."""

    unseen: tuple[tuple[int, int, float], ...]  # (track_id, frame, confidence) sorted
    bands: tuple[int, ...]  # band of each unseen box
    visible: int


@dataclass(frozen=True, slots=True)
class DatasetPlan:
    """How many samples a round takes and why."""

    samples: int
    allocation: tuple[tuple[int, ...], ...]  # per project, per band
    edges: tuple[float, ...]
    unseen: int
    visible: int
    predicted_rate: float  # sum(1 - c) / unseen: what the confidences expect
    target_rate: float  # the unseen error rate the target allows
    feasible: bool  # the confidences predict the target can be met

    @property
    def predicted_residual(self) -> float:
        return self.predicted_rate * self.unseen / max(1, self.visible)

    def summary(self) -> str:
        head = (
            f"{self.samples} samples over {len(self.allocation)} projects "
            f"({self.unseen} unseen of {self.visible} visible boxes); the confidences "
            f"predict ≈{100 * self.predicted_residual:.2f}% left wrong"
        )
        if not self.feasible:
            head += ": above the target, flag more first ('plan --apply')"
        return head


def populations(
    projects: Sequence[Project], edges: Sequence[float] | None = None
) -> tuple[list[ProjectPopulation], tuple[float, ...]]:
    """Each project's unseen boxes with their band, and the dataset's band edges."""
    unseen = [audit.unseen_boxes(p) for p in projects]
    if edges is None:
        pooled = np.array([c for u in unseen for _, _, c in u], dtype=np.float64)
        edges = band_edges(pooled)
    edges = tuple(edges)
    out = []
    for p, u in zip(projects, unseen, strict=True):
        confs = np.array([c for _, _, c in u], dtype=np.float64)
        b = band_of(confs, edges) if len(u) else np.zeros(0, dtype=np.int64)
        out.append(ProjectPopulation(tuple(u), tuple(int(x) for x in b), audit.n_visible(p)))
    return out, edges


def _strata_table(pops: list[ProjectPopulation], n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.zeros((len(pops), n_bands), dtype=np.int64)
    errs = np.zeros((len(pops), n_bands), dtype=np.float64)
    for i, pp in enumerate(pops):
        for (_, _, c), b in zip(pp.unseen, pp.bands, strict=True):
            sizes[i, b] += 1
            errs[i, b] += 1.0 - c
    rates = np.divide(errs, sizes, out=np.zeros_like(errs), where=sizes > 0)
    return sizes, rates


def plan_round(
    projects: Sequence[Project],
    target: float,
    acceptance: AcceptancePlan | None = None,
    n: int | None = None,
) -> DatasetPlan:
    """The samples a round needs (``n`` overrides): the smallest allocation whose last
    look accepts when each stratum shows the errors its confidences predict (the
    acceptable quality level of an acceptance plan), capped at the population."""
    acc = acceptance or AcceptancePlan()
    if not 0.0 < target < 1.0:
        raise ConfigError(f"target residual must be in (0, 1), got {target}")
    pops, edges = populations(projects)
    n_bands = len(edges) + 1
    sizes, rates = _strata_table(pops, n_bands)
    big_n = int(sizes.sum())
    visible = sum(pp.visible for pp in pops)
    if big_n == 0:
        raise ProjectError("nothing to audit: no project has an unseen box")
    predicted = float((sizes * rates).sum()) / big_n
    target_rate = target * visible / big_n
    flat_sizes = sizes.ravel().tolist()
    flat_rates = rates.ravel().tolist()

    def accepts(m: int) -> bool:
        alloc = np.asarray(allocate(flat_sizes, flat_rates, m), dtype=np.float64)
        keep = alloc > 0
        x = alloc[keep] * np.asarray(flat_rates)[keep]
        _, _, hi, _ = audit.stratified_interval(
            np.asarray(flat_sizes)[keep], alloc[keep], x, 1.0 - 2.0 * acc.alphas[-1]
        )
        return hi <= target_rate

    feasible = predicted < target_rate
    if n is None:
        if not feasible or target_rate >= 1.0:
            n = audit.sample_size(big_n, visible, target, 1.0 - 2.0 * acc.alphas[-1])
        elif accepts(big_n):
            lo, hi = 1, big_n  # smallest m with accepts(m): bisection (accepts grows with m)
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if accepts(mid) else (mid + 1, hi)
            n = lo
        else:
            n = big_n
    alloc = allocate(flat_sizes, flat_rates, n)
    table = tuple(tuple(alloc[i * n_bands : (i + 1) * n_bands]) for i in range(len(pops)))
    return DatasetPlan(sum(alloc), table, edges, big_n, visible, predicted, target_rate, feasible)


# -- the draw -------------------------------------------------------------------------------


def stage_of(j: int, n_h: int, looks: int) -> int:
    """Stage (1-based) of the ``j``-th (0-based) sample of a stratum of ``n_h``."""
    return j * looks // n_h + 1


def track_fingerprints(project: Project, rnd: AuditRound) -> dict[str, str]:
    """Per track, a hash of its unseen boxes that are not samples of ``rnd``: what must
    not change while the round is open (the samples change when checked). Keys are track
    ids as text, sorted."""
    skip = {(s.track_id, s.frame) for s in rnd.samples}
    rows: dict[int, list[str]] = {}
    for tid, f, c in audit.unseen_boxes(project):
        if (tid, f) in skip:
            continue
        b = project.boxes(tid)[f]
        x1, y1, x2, y2 = b.xyxy.as_tuple()
        rows.setdefault(tid, []).append(f"{f}:{x1:.2f},{y1:.2f},{x2:.2f},{y2:.2f}:{c:.4f}")
    return {
        str(tid): hashlib.sha256("\n".join(rows[tid]).encode()).hexdigest()[:16]
        for tid in sorted(rows)
    }


def draw_round(
    projects: Sequence[Project], plan: DatasetPlan, seed: int, looks: int = LOOKS
) -> list[AuditRound]:
    """Draw the plan's samples, one :class:`AuditRound` per project (its strata are its
    non-empty bands; its walk order visits stage 1 first); pure, no edit."""
    rng = np.random.default_rng(seed)
    pops, _ = populations(projects, plan.edges)
    rounds = []
    for p, pp, alloc in zip(projects, pops, plan.allocation, strict=True):
        strata: list[Stratum] = []
        drawn: list[tuple[int, float, AuditSample]] = []
        for b, n_h in enumerate(alloc):
            members = [i for i, bb in enumerate(pp.bands) if bb == b]
            if not members:
                continue
            h = len(strata)
            confs = [pp.unseen[i][2] for i in members]
            strata.append(Stratum(f"band {b + 1}", min(confs), max(confs), len(members)))
            picked = rng.choice(len(members), size=n_h, replace=False)  # in walk order
            for j, idx in enumerate(picked):
                tid, f, _ = pp.unseen[members[int(idx)]]
                drawn.append((stage_of(j, n_h, looks), 0.0, AuditSample(tid, f, h)))
        keys = rng.random(len(drawn))
        order = sorted(range(len(drawn)), key=lambda i: (drawn[i][0], float(keys[i])))
        thr = p.quality.threshold or 0.0
        rounds.append(
            AuditRound(seed, thr, pp.visible, tuple(strata), tuple(drawn[i][2] for i in order))
        )
    return rounds


def sample_stages(rnd: AuditRound, looks: int) -> list[int]:
    """The stage of each of ``rnd``'s samples (in walk order), recovered from the order:
    within a stratum the walk keeps the draw's order."""
    n_h = [0] * len(rnd.strata)
    for s in rnd.samples:
        n_h[s.stratum] += 1
    seen = [0] * len(rnd.strata)
    out = []
    for s in rnd.samples:
        out.append(stage_of(seen[s.stratum], n_h[s.stratum], looks))
        seen[s.stratum] += 1
    return out


# -- estimate and decision ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatasetEstimate:
    """What the checked samples of stages ``<= look`` say (rates over unseen boxes,
    residuals over visible boxes), with the acceptance bound of that look."""

    look: int
    checked: int
    wrong: int
    rate: float
    rate_lo: float
    rate_hi: float
    unseen: int
    visible: int
    bound_rate: float  # one-sided upper bound at level 1 - alpha_look
    alpha: float
    method: str
    level: float = LEVEL

    def _res(self, r: float) -> float:
        return r * self.unseen / max(1, self.visible)

    @property
    def residual(self) -> float:
        return self._res(self.rate)

    @property
    def residual_interval(self) -> tuple[float, float]:
        return self._res(self.rate_lo), self._res(self.rate_hi)

    @property
    def bound(self) -> float:
        return self._res(self.bound_rate)

    def summary(self) -> str:
        lo, hi = self.residual_interval
        return (
            f"dataset audit (look {self.look}): {self.checked} checked, {self.wrong} wrong "
            f"→ ≈ {100 * self.residual:.2f}% left ({100 * lo:.2f}–{100 * hi:.2f}%, "
            f"{100 * self.level:g}%)"
        )


def _counts(
    rounds: Sequence[AuditRound], looks: int, look: int
) -> tuple[list[int], list[int], list[int], bool]:
    pops: list[int] = []
    n: list[int] = []
    x: list[int] = []
    complete = True
    for rnd in rounds:
        base = len(pops)
        pops += [s.population for s in rnd.strata]
        n += [0] * len(rnd.strata)
        x += [0] * len(rnd.strata)
        for s, st in zip(rnd.samples, sample_stages(rnd, looks), strict=True):
            if st > look:
                continue
            if s.outcome is None:
                complete = False
                continue
            n[base + s.stratum] += 1
            x[base + s.stratum] += s.outcome == "wrong"
    return pops, n, x, complete


def estimate_look(
    rounds: Sequence[AuditRound],
    look: int,
    acceptance: AcceptancePlan | None = None,
    *,
    visible: int | None = None,
) -> DatasetEstimate | None:
    """The estimate from the checked samples of stages ``<= look``; ``None`` while a
    non-empty stratum has none. ``visible`` defaults to the rounds' ``n_boxes``."""
    acc = acceptance or AcceptancePlan()
    if not 1 <= look <= acc.looks:
        raise ConfigError(f"look must be in 1..{acc.looks}, got {look}")
    pops, n, x, _ = _counts(rounds, acc.looks, look)
    if any(p > 0 and k == 0 for p, k in zip(pops, n, strict=True)):
        return None
    rate, lo, hi, method = audit.stratified_interval(pops, n, x, LEVEL)
    alpha = acc.alphas[look - 1]
    _, _, bound, _ = audit.stratified_interval(pops, n, x, 1.0 - 2.0 * alpha)
    vis = visible if visible is not None else sum(r.n_boxes for r in rounds)
    return DatasetEstimate(
        look,
        sum(n),
        sum(x),
        float(rate),
        float(lo),
        float(hi),
        sum(pops),
        vis,
        float(bound),
        alpha,
        method,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """``"check"``: samples of the next look are unchecked; ``"accept"``: the target is
    met with the plan's guarantee; ``"reject"``: it is not (flag more, audit again)."""

    action: Literal["check", "accept", "reject"]
    look: int  # the last complete look (0: none)
    estimate: DatasetEstimate | None
    pending: int  # unchecked samples of the next look
    message: str


def decide(
    rounds: Sequence[AuditRound],
    target: float,
    acceptance: AcceptancePlan | None = None,
    *,
    visible: int | None = None,
) -> Decision:
    """Apply the sequential acceptance test (module doc) to the rounds' outcomes so far;
    ``visible``: the dataset's visible boxes (default: the rounds' ``n_boxes``)."""
    acc = acceptance or AcceptancePlan()
    est: DatasetEstimate | None = None
    for k in range(1, acc.looks + 1):
        _, _, _, complete = _counts(rounds, acc.looks, k)
        if not complete:
            stages = [sample_stages(r, acc.looks) for r in rounds]
            pending = sum(
                s.outcome is None and st <= k
                for r, sts in zip(rounds, stages, strict=True)
                for s, st in zip(r.samples, sts, strict=True)
            )
            return Decision(
                "check", k - 1, est, pending, f"{pending} samples to check before look {k}"
            )
        est = estimate_look(rounds, k, acc, visible=visible)
        if est is None:  # a stratum with no sample: cannot happen for a plan's draw
            continue
        pct = f"{100 * target:g}%"
        if est.bound <= target:
            return Decision(
                "accept",
                k,
                est,
                0,
                f"{est.summary()}: accepted at look {k} of {acc.looks}: the "
                f"{100 * (1 - acc.risk):g}% bound {100 * est.bound:.2f}% is within {pct}",
            )
        if est.residual_interval[0] > target or k == acc.looks:
            return Decision(
                "reject",
                k,
                est,
                0,
                f"{est.summary()}: the target {pct} is not met at look {k}; flag more "
                f"boxes, review them and audit again",
            )
    raise ProjectError("the audit has no sample in some stratum")  # pragma: no cover


def guarantee_text(acc: AcceptancePlan) -> str:
    """One line saying what the acceptance test guarantees."""
    spent = ", ".join(f"{100 * a:g}%" for a in acc.alphas)
    return (
        f"a dataset worse than the target is accepted with probability ≤ "
        f"{100 * acc.risk:g}% ({acc.looks} looks spending {spent})"
    )


def flag_more(projects: Sequence[Project], dec: Decision, target: float) -> int:
    """After a rejection: in each project, raise the flag threshold to the lowest one whose
    predicted residual meets the target scaled down by how optimistic the confidences
    proved (the audit's upper end over the dataset's predicted residual), as the project
    audit's loop does; one undoable edit per project. Returns boxes flagged."""
    if dec.action != "reject" or dec.estimate is None:
        return 0
    expected = sum(sum(1.0 - c for _, _, c in audit.unseen_boxes(p)) for p in projects)
    predicted = expected / max(1, dec.estimate.visible)
    ratio = dec.estimate.residual_interval[1] / max(predicted, 1e-12)
    aim = target / max(ratio, 1.0)
    flagged = 0
    for p in projects:
        now = p.quality.threshold or 0.0
        higher = [pt for pt in audit.predict_curve(p) if pt.threshold > now]
        if not higher:
            continue
        pick = next((pt for pt in higher if pt.residual <= aim), higher[-1])
        flagged += audit.apply_threshold(p, pick.threshold, "Flag more: the dataset audit")
    return flagged
