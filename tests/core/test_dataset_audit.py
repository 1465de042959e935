"""The dataset audit on constructed populations whose wrong boxes are known."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.core import audit
from tracker_annotate.core import dataset_audit as da
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.quality import AuditRound, AuditSample

XY = BoxXYXY(0, 0, 10, 10)
Truth = list[set[tuple[int, int]]]


def population(
    seed: int, *, sizes: tuple[int, ...], beta: float, extra: tuple[float, ...]
) -> tuple[list[Project], Truth]:
    """Projects of one track each; a box is wrong with probability ``1 - c`` plus the
    project's ``extra`` (the confidence is over-sure there), drawn once: the truth."""
    rng = np.random.default_rng(seed)
    projects, truth = [], []
    for i, n in enumerate(sizes):
        p = Project(MediaRef(f"v{i}.mp4", n + 1, 100, 100))
        conf = 1.0 - rng.beta(0.5, beta, n)
        wrong: set[tuple[int, int]] = set()
        with p.edit("seed") as tx:
            tx.set_track(TrackInfo(1))
            tx.set_box(1, FrameBox(0, XY))
            for f in range(1, n + 1):
                c = float(conf[f - 1])
                tx.set_box(1, FrameBox(f, XY, BoxSource.TRACKED, c))
                if rng.random() < min(1.0, 1.0 - c + extra[i % len(extra)]):
                    wrong.add((1, f))
        p.history.clear()
        projects.append(p)
        truth.append(wrong)
    return projects, truth


def judge(rounds: list[AuditRound], truth: Truth) -> list[AuditRound]:
    """Every sample checked, the truth saying ok or wrong."""
    out = []
    for r, t in zip(rounds, truth, strict=True):
        samples = tuple(
            AuditSample(
                s.track_id, s.frame, s.stratum, "wrong" if (s.track_id, s.frame) in t else "ok"
            )
            for s in r.samples
        )
        out.append(AuditRound(r.seed, r.threshold, r.n_boxes, r.strata, samples))
    return out


def true_residual(projects: list[Project], truth: Truth) -> float:
    visible = sum(audit.n_visible(p) for p in projects)
    return sum(len(t) for t in truth) / visible


@pytest.fixture(scope="module")
def over_sure() -> tuple[list[Project], Truth]:
    # six videos of 150..1400 boxes; two of them 2-3 points worse than their confidences say
    return population(
        1, sizes=(150, 900, 400, 1400, 250, 700), beta=80.0, extra=(0.0, 0.03, 0.0, 0.02)
    )


def test_interval_covers_the_truth_over_200_seeded_audits(
    over_sure: tuple[list[Project], Truth],
) -> None:
    projects, truth = over_sure
    truth_res = true_residual(projects, truth)
    plan = da.plan_round(projects, 0.02)
    assert plan.samples < plan.unseen / 3  # a sample, not the whole dataset
    hits = 0
    for seed in range(200):
        rounds = judge(da.draw_round(projects, plan, seed), truth)
        est = da.estimate_look(rounds, da.LOOKS)
        assert est is not None
        lo, hi = est.residual_interval
        hits += lo <= truth_res <= hi
    assert hits / 200 >= 0.90


def test_a_dataset_worse_than_the_target_is_rarely_accepted() -> None:
    # the confidences predict ~0.6% wrong; the truth is ~1.3%, above the 1% target
    projects, truth = population(2, sizes=(1200, 800, 1500, 600), beta=150.0, extra=(0.010,))
    truth_res = true_residual(projects, truth)
    assert 0.011 < truth_res < 0.016
    plan = da.plan_round(projects, 0.01)
    accepted = sum(
        da.decide(judge(da.draw_round(projects, plan, seed), truth), 0.01).action == "accept"
        for seed in range(200)
    )
    assert accepted / 200 <= 0.05


def test_a_good_dataset_is_accepted_and_can_stop_early() -> None:
    # the confidences are pessimistic (predict ~0.4%); nothing is actually wrong: the plan
    # is sized for the predicted errors, the test accepts as soon as the bound allows
    projects, _ = population(3, sizes=(3000, 5000, 4000), beta=130.0, extra=(0.0,))
    none: Truth = [set() for _ in projects]
    plan = da.plan_round(projects, 0.01)
    assert plan.feasible
    looks = [
        da.decide(judge(da.draw_round(projects, plan, seed), none), 0.01) for seed in range(20)
    ]
    assert all(d.action == "accept" for d in looks)
    assert min(d.look for d in looks) < da.LOOKS  # the sequential test stopped before the end


def test_rejection_stops_at_the_first_look_when_clear_cut() -> None:
    projects, truth = population(4, sizes=(800, 800), beta=80.0, extra=(0.15,))
    plan = da.plan_round(projects, 0.01, n=400)
    dec = da.decide(judge(da.draw_round(projects, plan, 0), truth), 0.01)
    assert dec.action == "reject" and dec.look == 1


def test_check_until_every_sample_of_the_look_is_checked(
    over_sure: tuple[list[Project], Truth],
) -> None:
    projects, truth = over_sure
    plan = da.plan_round(projects, 0.02)
    rounds = da.draw_round(projects, plan, 7)
    dec = da.decide(rounds, 0.02)
    first = sum(st == 1 for r in rounds for st in da.sample_stages(r, da.LOOKS))
    assert dec.action == "check" and dec.look == 0 and dec.pending == first
    # checking the first look's samples (the walk visits them first) makes look 1 decidable
    judged = judge(rounds, truth)
    part = []
    for r, j in zip(rounds, judged, strict=True):
        stages = da.sample_stages(r, da.LOOKS)
        mixed = tuple(
            js if st == 1 else s for s, js, st in zip(r.samples, j.samples, stages, strict=True)
        )
        assert list(stages) == sorted(stages)  # walk order: stage 1 first
        part.append(AuditRound(r.seed, r.threshold, r.n_boxes, r.strata, mixed))
    dec2 = da.decide(part, 0.02)
    assert dec2.look >= 1 and dec2.estimate is not None


def test_the_draw_is_deterministic_and_stratified_by_video_and_band(
    over_sure: tuple[list[Project], Truth],
) -> None:
    projects, _ = over_sure
    plan = da.plan_round(projects, 0.02)
    a = da.draw_round(projects, plan, 11)
    b = da.draw_round(projects, plan, 11)
    c = da.draw_round(projects, plan, 12)
    assert a == b and a != c
    assert len(plan.edges) == da.BANDS - 1
    for r, alloc in zip(a, plan.allocation, strict=True):
        assert len(r.samples) == sum(alloc)
        assert len(set((s.track_id, s.frame) for s in r.samples)) == len(r.samples)
        assert all(n >= 1 for n in alloc)  # every (video, band) stratum is sampled
        # stages recovered from the stored walk order: stage k holds ceil(k n_h / K)
        for h in range(len(r.strata)):
            st = [
                x
                for s, x in zip(r.samples, da.sample_stages(r, da.LOOKS), strict=True)
                if s.stratum == h
            ]
            n_h = len(st)
            assert [sum(x <= k for x in st) for k in range(1, 5)] == [
                -(-k * n_h // 4) for k in range(1, 5)
            ]


@pytest.mark.parametrize(
    ("pops", "rates", "n", "want"),
    [
        ([100, 100], [0.1, 0.1], 10, [5, 5]),  # equal strata: equal shares
        ([100, 100], [0.09, 0.01], 40, [30, 10]),  # sd 0.286 vs 0.099: ~3 to 1
        ([100, 0, 100], [0.5, 0.5, 0.001], 2, [1, 0, 1]),  # one each before Neyman; empty gets 0
        ([3, 100], [0.5, 0.01], 40, [3, 37]),  # capped at N_h: the rest goes elsewhere
        ([5, 5], [0.1, 0.1], 99, [5, 5]),  # capped at the population
        ([100, 100, 100], [0.1, 0.1, 0.1], 1, [1, 1, 1]),  # raised to one per stratum
    ],
)
def test_allocation(pops: list[int], rates: list[float], n: int, want: list[int]) -> None:
    assert da.allocate(pops, rates, n) == want


def test_fingerprints_ignore_samples_and_see_other_edits(
    over_sure: tuple[list[Project], Truth],
) -> None:
    projects, _ = over_sure
    p = projects[0]
    plan = da.plan_round(projects, 0.02)
    rnd = da.draw_round(projects, plan, 5)[0]
    before = da.track_fingerprints(p, rnd)
    s = rnd.samples[0]
    box = p.box(s.track_id, s.frame)
    assert box is not None
    with p.edit("check a sample") as tx:
        tx.set_box(s.track_id, box.with_(verified=True))
    assert da.track_fingerprints(p, rnd) == before
    other = next(f for f in range(1, 100) if rnd.sample_at(1, f) is None)
    b2 = p.box(1, other)
    assert b2 is not None
    with p.edit("move a box") as tx:
        tx.set_box(1, b2.with_(xyxy=BoxXYXY(1, 0, 11, 10)))
    assert da.track_fingerprints(p, rnd) != before
    p.history.undo()
    p.history.undo()
