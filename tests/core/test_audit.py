"""The quality target, the audit sampler and the estimator, on constructed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tracker_annotate.core import audit, quality
from tracker_annotate.core import intervals as iv
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo

XY = BoxXYXY(0, 0, 10, 10)
OUT: dict[bool, quality.Outcome] = {True: "wrong", False: "ok"}


def make_project(
    confs_per_track: list[list[float]], *, flagged: frozenset[tuple[int, int]] = frozenset()
) -> Project:
    n = max(len(c) for c in confs_per_track) + 1
    p = Project(MediaRef("v.mp4", n, 100, 100))
    with p.edit("seed") as tx:
        for i, confs in enumerate(confs_per_track, start=1):
            tx.set_track(TrackInfo(i))
            tx.set_box(i, FrameBox(0, XY))  # manual keyframe
            for f, c in enumerate(confs, start=1):
                fl = (i, f) in flagged
                reason = "x" if fl else ""
                tx.set_box(i, FrameBox(f, XY, BoxSource.TRACKED, c, flagged=fl, flag_reason=reason))
    p.history.clear()
    return p


# -- intervals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.308498),  # 1 - 0.025 ** (1/10)
        (5, 10, 0.187086, 0.812914),  # published table value
        (1, 40, 0.000633, 0.131586),  # R binom.test(1, 40)
        (10, 10, 0.691502, 1.0),  # mirror of (0, 10)
    ],
)
def test_clopper_pearson_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got = iv.clopper_pearson(k, n)
    assert got == pytest.approx((lo, hi), abs=2e-6)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.277533),  # Wilson 1927, z = 1.959964
        (5, 10, 0.236593, 0.763407),
        (1, 40, 0.004427, 0.128814),  # by hand from the formula
    ],
)
def test_wilson_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    assert iv.wilson(k, n) == pytest.approx((lo, hi), abs=2e-6)


def test_betainc_known_values() -> None:
    assert iv.betainc(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert iv.betainc(2, 3, 0.4) == pytest.approx(0.5248)  # 1 - sum binomial tail
    assert iv.betainc(0.5, 0.5, 0.5) == pytest.approx(0.5)


def _brute_hypergeom_interval(k: int, n: int, big_n: int, level: float) -> tuple[int, int]:
    """Enumerate every n-subset of a population with D bad items: the exact tails."""
    half = (1 - level) / 2
    ok = []
    for d in range(big_n + 1):
        pop = [1] * d + [0] * (big_n - d)
        counts = [sum(c) for c in itertools.combinations(pop, n)]
        le = sum(c <= k for c in counts) / len(counts)
        ge = sum(c >= k for c in counts) / len(counts)
        if le > half and ge > half:
            ok.append(d)
    return min(ok), max(ok)


@pytest.mark.parametrize(("k", "n", "big_n"), [(0, 4, 10), (1, 4, 10), (2, 5, 9), (3, 3, 8)])
def test_exact_interval_on_a_tiny_population(k: int, n: int, big_n: int) -> None:
    assert iv.hypergeometric(k, n, big_n, 0.95) == _brute_hypergeom_interval(k, n, big_n, 0.95)
    # and through the estimator, as shares of the population
    rate, lo, hi, method = audit.stratified_interval([big_n], [n], [k])
    d_lo, d_hi = _brute_hypergeom_interval(k, n, big_n, 0.95)
    assert (rate, lo, hi) == pytest.approx((k / n, d_lo / big_n, d_hi / big_n))
    assert method == audit.METHOD_EXACT


def test_interval_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="0 <= k <= n"):
        iv.clopper_pearson(3, 2)
    with pytest.raises(ConfigError, match="level"):
        iv.wilson(1, 2, level=1.5)
    with pytest.raises(ConfigError, match="stratum"):
        audit.stratified_interval([10, 10], [3, 0], [0, 0])


def test_fully_checked_strata_give_the_exact_rate() -> None:
    rate, lo, hi, _ = audit.stratified_interval([4, 6], [4, 6], [1, 0])
    assert rate == lo == hi == pytest.approx(0.4 * 0.25)


# -- prediction and threshold ----------------------------------------------------------


def test_prediction_counts_flags_stretches_and_expected_wrong() -> None:
    # track 1: confidences 0.9 0.5 0.6 0.95 ; frame 2 already flagged by the engine
    p = make_project([[0.9, 0.5, 0.6, 0.95]], flagged=frozenset({(1, 2)}))
    curve = {round(c.threshold, 6): c for c in audit.predict_curve(p)}
    base = curve[0.0]
    assert (base.flagged, base.stretches) == (1, 1)
    assert base.expected_wrong == pytest.approx(0.1 + 0.4 + 0.05)
    assert base.residual == pytest.approx(0.55 / 5)  # 5 visible boxes (keyframe included)
    at = curve[0.9]  # flags conf < 0.9: frames 2, 3 -> one stretch
    assert (at.flagged, at.stretches) == (2, 1)
    assert at.expected_wrong == pytest.approx(0.15)
    at = curve[0.95]  # frames 1, 2, 3
    assert (at.flagged, at.stretches, at.expected_wrong) == (3, 1, pytest.approx(0.05))
    everything = audit.predict_curve(p)[-1]
    assert (everything.flagged, everything.expected_wrong) == (4, 0.0)


def test_choose_threshold_by_target_and_by_budget() -> None:
    p = make_project([[0.99] * 50 + [0.6] * 10, [0.7, 0.99, 0.7]])
    pick = audit.choose_threshold(p, target=0.02)
    assert pick.residual <= 0.02
    lower = [c for c in audit.predict_curve(p) if c.threshold < pick.threshold]
    assert all(c.residual > 0.02 for c in lower)  # the lowest threshold that meets it
    cheap = audit.choose_threshold(p, budget_s=5.0)
    assert cheap.review_s <= 5.0
    assert "stretches" in pick.summary()
    with pytest.raises(ConfigError, match="exactly one"):
        audit.choose_threshold(p)


def test_apply_threshold_flags_and_is_one_undoable_step() -> None:
    p = make_project([[0.9, 0.5, 0.6, 0.95]])
    assert audit.apply_threshold(p, 0.7) == 2
    assert p.quality.threshold == 0.7
    assert p.box(1, 2).flagged and p.box(1, 3).flagged and not p.box(1, 1).flagged
    p.history.undo()
    assert p.quality.threshold is None and not p.box(1, 2).flagged


# -- sampler ------------------------------------------------------------------------------


def test_draw_is_seeded_stratified_and_only_unseen_boxes() -> None:
    confs = [[0.99] * 300 + [0.55] * 40, [0.97] * 200]
    p = make_project(confs, flagged=frozenset({(1, 5), (2, 7)}))
    a = audit.draw_audit(p, 40, seed=7)
    b = audit.draw_audit(p, 40, seed=7)
    c = audit.draw_audit(p, 40, seed=8)
    assert a == b and a != c
    assert len(a.samples) == 40 and len({(s.track_id, s.frame) for s in a.samples}) == 40
    assert [s.name for s in a.strata] == ["medium band", "rest"]
    assert sum(s.stratum == 0 for s in a.samples) == 20
    assert a.population == 538 and a.n_boxes == 542
    for s in a.samples:
        box = p.box(s.track_id, s.frame)
        assert box is not None and box.is_derived and not box.flagged
        lo, hi = a.strata[s.stratum].lo, a.strata[s.stratum].hi
        assert lo <= box.confidence <= hi
    # the medium band: the lowest-confidence boxes carrying half the predicted wrong
    # (total 2.99 + 40 * 0.45 + 6 = 26.99; 30 boxes at 0.55 carry 13.5)
    assert a.strata[0].hi == 0.55 and 29 <= a.strata[0].population <= 31


def test_start_audit_refuses_unreviewed_flags_and_records_outcomes_undoably() -> None:
    p = make_project([[0.99] * 100], flagged=frozenset({(1, 3)}))
    with pytest.raises(ProjectError, match="1 flagged boxes are still unreviewed"):
        audit.start_audit(p, seed=1)
    rnd = audit.start_audit(p, seed=1, n=10, force=True)
    assert audit.current_round(p) == rnd
    first = rnd.samples[0]
    audit.record_outcome(p, first.track_id, first.frame, "wrong")
    assert audit.current_round(p).samples[0].outcome == "wrong"
    p.history.undo()
    assert audit.current_round(p).samples[0].outcome is None
    p.history.redo()
    assert audit.current_round(p).wrong == 1
    with pytest.raises(ProjectError, match="not an audit sample"):
        audit.record_outcome(p, 1, 3, "ok")


def test_walk_order_and_next_sample() -> None:
    p = make_project([[0.9] * 30])
    rnd = audit.start_audit(p, seed=3, n=5)
    keys = [(s.frame, s.track_id) for s in rnd.samples]
    assert audit.next_sample(p, 0, None) == keys[0]
    assert audit.next_sample(p, *keys[0]) == keys[1]
    audit.record_outcome(p, rnd.samples[1].track_id, rnd.samples[1].frame, "ok")
    assert audit.next_sample(p, *keys[1]) == keys[2]  # continues from a checked sample
    assert audit.next_sample(p, *keys[2], backward=True) == keys[0]


# -- estimate and loop -----------------------------------------------------------------


def test_estimate_on_a_constructed_round() -> None:
    # one stratum of 100 unseen boxes among 200 visible; 20 checked, 1 wrong
    s = [quality.AuditSample(1, f, 0, "wrong" if f == 1 else "ok") for f in range(1, 21)]
    rnd = quality.AuditRound(0, 0.5, 200, (quality.Stratum("all", 0.5, 1.0, 100),), tuple(s))
    est = audit.estimate(rnd)
    assert est is not None and est.complete
    d_lo, d_hi = iv.hypergeometric(1, 20, 100)
    assert est.rate == pytest.approx(0.05)
    assert (est.residual_lo, est.residual_hi) == pytest.approx((d_lo / 200, d_hi / 200))
    assert est.summary().startswith("Audit: 20 checked, 1 wrong → ≈ 2.5% left (")


def test_no_estimate_until_every_stratum_has_a_check() -> None:
    strata = (quality.Stratum("medium band", 0.5, 0.8, 10), quality.Stratum("rest", 0.8, 1, 90))
    samples = (quality.AuditSample(1, 1, 0, "ok"), quality.AuditSample(1, 50, 1, None))
    assert audit.estimate(quality.AuditRound(0, 0.5, 100, strata, samples)) is None


def test_stratified_interval_covers_on_a_simulated_population() -> None:
    """Coverage of the 95% interval over 400 seeded audits of a population whose truth is
    known: confidences mostly calibrated, the medium band worse than predicted."""
    rng = np.random.default_rng(0)
    n_boxes = 4000
    confs = np.where(rng.random(n_boxes) < 0.1, 0.7, 0.995)
    truth_p = np.where(confs < 0.9, 0.12, 0.004)
    wrong = rng.random(n_boxes) < truth_p
    p = make_project([list(confs)])
    true_rate = wrong.mean()
    frame_wrong = {f + 1: bool(w) for f, w in enumerate(wrong)}
    covered = 0
    runs = 400
    for seed in range(runs):
        rnd = audit.draw_audit(p, 60, seed=seed)
        done = tuple(
            quality.AuditSample(s.track_id, s.frame, s.stratum, OUT[frame_wrong[s.frame]])
            for s in rnd.samples
        )
        est = audit.estimate(quality.AuditRound(seed, 0, n_boxes, rnd.strata, done))
        assert est is not None and est.method == audit.METHOD_KG
        covered += est.rate_lo <= true_rate <= est.rate_hi
    assert covered / runs >= 0.92, covered / runs


def test_loop_rule_flags_more_when_the_upper_end_is_above_target() -> None:
    p = make_project([[0.99] * 200 + [0.9] * 40])
    audit.set_target(p, 0.01)
    rnd = audit.start_audit(p, seed=5, n=30)
    assert audit.loop_step(p).action == "check"
    for i, s in enumerate(rnd.samples):
        audit.record_outcome(p, s.track_id, s.frame, "wrong" if i < 3 else "ok")
    step = audit.loop_step(p)
    assert step.action == "flag_more" and step.threshold is not None
    assert step.threshold > 0.0 and "above the 1% target" in step.message
    audit.apply_threshold(p, step.threshold)
    assert len(audit.unseen_boxes(p)) < 240


def test_loop_is_done_when_a_large_clean_audit_bounds_the_residual() -> None:
    p = make_project([[0.999] * 1000])
    n = audit.sample_size(1000, 1001, 0.01)
    assert n == math.ceil(math.log(0.025) / math.log1p(-0.01 * 1001 / 1000))
    rnd = audit.start_audit(p, seed=2)
    assert len(rnd.samples) == n
    for s in rnd.samples:
        audit.record_outcome(p, s.track_id, s.frame, "ok")
    step = audit.loop_step(p)
    assert step.action == "done", step.message
    est = audit.estimate(audit.current_round(p))
    assert est is not None and est.residual_hi <= 0.01


def test_walk_skips_samples_whose_box_is_gone() -> None:
    p = make_project([[0.9] * 30])
    rnd = audit.start_audit(p, seed=3, n=3)
    gone = rnd.samples[0]
    with p.edit("delete") as tx:
        tx.remove_box(gone.track_id, gone.frame)
    assert audit.next_sample(p, 0, None) == (rnd.samples[1].frame, rnd.samples[1].track_id)
