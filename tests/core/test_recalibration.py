"""Per-video recalibration on constructed populations whose true error rate is known."""

from __future__ import annotations

import numpy as np
import pytest

from tracker_annotate.core import audit, commands, recal_report, recalibration
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.recal_state import ReviewOutcome

THRESHOLD = 0.5
OFF = BoxXYXY(50, 50, 60, 60)  # where a wrong box's correction goes


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def population(
    shift: float, *, n_tracks: int = 4, n_frames: int = 600, seed: int = 0
) -> tuple[Project, dict[tuple[int, int], bool]]:
    """Tracked boxes whose engine confidence is over-sure by ``shift`` logits: the truth is
    ``P(right) = sigmoid(logit(c) - shift)``. Engine flags below :data:`THRESHOLD`."""
    rng = np.random.default_rng(seed)
    p = Project(MediaRef("v.mp4", n_frames + 1, 100, 100))
    truth: dict[tuple[int, int], bool] = {}
    with p.edit("Track") as tx:
        for tid in range(1, n_tracks + 1):
            tx.set_track(TrackInfo(tid))
            tx.set_box(tid, FrameBox(0, BoxXYXY(0, 0, 10, 10)))
            x = rng.uniform(-3.0, 5.0, n_frames)
            c = np.round(_sig(x), 4)
            right = rng.random(n_frames) < _sig(recalibration.logit(c) - shift)
            for f in range(1, n_frames + 1):
                ci = float(c[f - 1])
                flagged = ci < THRESHOLD
                tx.set_box(
                    tid,
                    FrameBox(f, BoxXYXY(0, 0, 10, 10), BoxSource.TRACKED, ci, flagged=flagged),
                )
                truth[(tid, f)] = bool(right[f - 1])
    p.history.clear()
    return p, truth


def review_flags(p: Project, truth: dict[tuple[int, int], bool], limit: int | None = None) -> int:
    """A perfect annotator visits flagged boxes: accept the right, correct the wrong."""
    done = 0
    for tid in sorted(p.tracks):
        for f, b in sorted(p.boxes(tid).items()):
            if not (b.flagged and not b.verified and b.is_derived):
                continue
            if limit is not None and done >= limit:
                return done
            if truth[(tid, f)]:
                commands.accept_box(p, tid, f)
            else:
                commands.set_box_geometry(p, tid, f, OFF)
            done += 1
    return done


def test_flag_reviews_are_recorded_with_the_engine_confidence_and_their_selection() -> None:
    p, truth = population(1.0, n_tracks=1, n_frames=50)
    n = review_flags(p, truth)
    reviews = p.quality.reviews
    assert len(reviews) == n > 0
    assert all(o.selection == "flag" and o.inclusion == 1.0 for o in reviews)
    assert all(o.confidence < THRESHOLD for o in reviews)
    assert [o.right for o in reviews] == [truth[(o.track_id, o.frame)] for o in reviews]
    # fixing a box nobody flagged is recorded, but as "other": its selection may depend on
    # its being wrong, so the fit must not use it
    tid, f = next((1, f) for f, b in sorted(p.boxes(1).items()) if b.is_derived and not b.flagged)
    commands.set_box_geometry(p, tid, f, OFF)
    assert p.quality.reviews[-1].selection == "other"
    assert recalibration.fit(p.quality.reviews).labels == n
    # keyframes are not reviews
    commands.set_box_geometry(p, tid, f, BoxXYXY(1, 1, 9, 9))
    assert len(p.quality.reviews) == n + 1


def test_the_verdict_and_its_record_are_one_undo_step() -> None:
    p, _ = population(1.0, n_tracks=1, n_frames=30)
    f = next(f for f, b in sorted(p.boxes(1).items()) if b.flagged)
    commands.accept_box(p, 1, f)
    assert len(p.quality.reviews) == 1
    p.history.undo()
    assert p.quality.reviews == () and p.box(1, f).flagged  # type: ignore[union-attr]
    p.history.redo()
    assert len(p.quality.reviews) == 1


def test_over_sure_engine_moves_towards_the_truth() -> None:
    shift = 1.0
    p, truth = population(shift)
    review_flags(p, truth)
    res = recalibration.recalibrate(p, THRESHOLD)
    m = recalibration.map_of(p.quality.recal)
    st = res.state
    assert st.direction == "lowered" and st.a < -0.3
    # inside the labels' range the map is closer to the truth than the engine was
    for c in (0.1, 0.25, 0.4):
        true_p = float(_sig(recalibration.logit(c) - shift))
        assert abs(float(m.apply([c])[0]) - true_p) < 0.5 * abs(c - true_p)
    # boxes just above the threshold became doubtful and are flagged with the reason
    new = [
        b
        for t in p.tracks
        for b in p.boxes(t).values()
        if b.flagged and b.flag_reason.startswith(recalibration.REASON_PREFIX)
    ]
    assert len(new) == st.flagged == st.flagged_total > 20
    assert all(b.confidence >= THRESHOLD for b in new)
    assert "of 20 reviewed boxes at this confidence" in new[0].flag_reason
    # and the new flags really are more often wrong than the engine said
    wrong = np.mean([not truth[(t, b.frame)] for t in p.tracks for b in new if True])
    assert wrong > 1.0 - np.mean([b.confidence for b in new])


def test_only_low_confidence_reviews_do_not_lower_the_confident_range() -> None:
    """Selection bias: the reviewed boxes are the low-confidence ones, so most are wrong.
    A calibrated engine must stay as it is, and with an over-sure one, boxes far above the
    labels' range keep the engine's confidence (no evidence there)."""
    p, truth = population(0.0, seed=1)  # calibrated: P(right) = c
    review_flags(p, truth)
    use = recalibration.usable(p.quality.reviews)
    assert np.mean([not o.right for o in use]) > 0.6  # the naive rate would lower everything
    st = recalibration.recalibrate(p, THRESHOLD).state
    assert abs(st.a) < 0.35 and abs(st.b - 1.0) < 0.25
    confident = [
        b for t in p.tracks for b in p.boxes(t).values() if b.is_derived and b.confidence >= 0.7
    ]
    assert sum(b.flagged for b in confident) <= 0.01 * len(confident)

    q, truth_q = population(1.5, seed=2)  # over-sure everywhere
    review_flags(q, truth_q)
    st = recalibration.recalibrate(q, THRESHOLD).state
    m = recalibration.map_of(q.quality.recal)
    assert st.support_hi < THRESHOLD
    edge = float(recalibration.logit(st.support_hi))
    far = float(_sig(np.array(edge + recalibration.RecalParams().fade_logits + 0.1)))
    for c in (far, 0.95, 0.99):
        assert float(m.apply([c])[0]) == pytest.approx(c, abs=1e-9)
    assert not any(
        b.flagged
        for t in q.tracks
        for b in q.boxes(t).values()
        if b.is_derived and b.confidence > far
    )


def test_audit_samples_in_the_confident_range_let_the_map_move_it() -> None:
    shift = 1.5
    p, truth = population(shift, seed=3)
    review_flags(p, truth)
    rnd = audit.start_audit(p, seed=4, n=200, force=True)
    for s in rnd.samples:
        ok = truth[(s.track_id, s.frame)]
        audit.check_sample(p, s.track_id, s.frame, "ok" if ok else "wrong", None if ok else OFF)
    audit_rev = [o for o in p.quality.reviews if o.selection == "audit"]
    assert len(audit_rev) == 200 and all(0 < o.inclusion < 1 for o in audit_rev)
    st = recalibration.recalibrate(p, THRESHOLD).state
    assert st.audit_labels == 200 and st.hi_support_hi > 0.95 and st.a_hi < -0.5
    m = recalibration.map_of(p.quality.recal)
    c = 0.9
    true_p = float(_sig(recalibration.logit(c) - shift))
    assert abs(float(m.apply([c])[0]) - true_p) < 0.5 * abs(c - true_p)


def test_a_flag_is_lifted_only_with_audit_support() -> None:
    # an under-sure engine: the truth is sigmoid(logit c + 2)
    p, truth = population(-2.0, n_tracks=2, seed=5)
    review_flags(p, truth, limit=150)
    before = sum(b.flagged for t in p.tracks for b in p.boxes(t).values())
    st = recalibration.recalibrate(p, THRESHOLD).state
    # flag labels lean towards right ones (see the module doc): alone they never raise,
    # and without audit samples no flag is lifted
    assert recalibration.fit(p.quality.reviews).map.is_identity
    assert st.direction == "unchanged" and st.lifted == 0
    assert sum(b.flagged for t in p.tracks for b in p.boxes(t).values()) == before
    # audit verdicts near confidence 0.4, all right, weighted as a population share
    tid = 1
    near = [
        f
        for f, b in sorted(p.boxes(tid).items())
        if b.is_derived and b.flagged and 0.35 < b.confidence < 0.45
    ]
    outcomes = [
        ReviewOutcome(tid, f, p.boxes(tid)[f].confidence, True, "audit", 0.05) for f in near[:8]
    ]
    got = recalibration.band_error(outcomes, 0.4)
    assert got is not None and got[0] == 0.0 and got[2] == len(outcomes)
    assert recalibration.band_error(outcomes[:3], 0.4) is None


def test_identity_with_few_labels_and_bad_arguments() -> None:
    p, truth = population(2.0, n_tracks=1, n_frames=40)
    review_flags(p, truth, limit=5)
    f = recalibration.fit(p.quality.reviews)
    assert f.map.is_identity and f.labels == 5
    assert recalibration.maybe_recalibrate(p, THRESHOLD) is None
    with pytest.raises(ConfigError):
        recalibration.recalibrate(p, 1.5)
    with pytest.raises(ConfigError):
        recalibration.RecalParams(every=0)
    with pytest.raises(ProjectError):
        ReviewOutcome(1, 1, 0.5, True, "guess")  # type: ignore[arg-type]


def test_recalibration_is_one_undo_step_and_redoes_the_same() -> None:
    p, truth = population(1.0, n_tracks=2)
    review_flags(p, truth)
    flags = lambda: {(t, f) for t in p.tracks for f, b in p.boxes(t).items() if b.flagged}  # noqa: E731
    before = flags()
    res = recalibration.recalibrate(p, THRESHOLD)
    after = flags()
    assert len(after) == len(before) + res.state.flagged and res.state.flagged > 0
    assert p.history.undo_text() == res.description
    p.history.undo()
    assert flags() == before and p.quality.recal is None
    p.history.redo()
    assert flags() == after and p.quality.recal == res.state


def test_maybe_recalibrate_runs_every_n_labels_and_when_the_queue_is_empty() -> None:
    p, truth = population(1.0, n_tracks=1, n_frames=200)
    params = recalibration.RecalParams(every=10)
    review_flags(p, truth, limit=9)
    assert recalibration.maybe_recalibrate(p, THRESHOLD, params) is None
    review_flags(p, truth, limit=1)
    assert recalibration.maybe_recalibrate(p, THRESHOLD, params) is not None
    review_flags(p, truth, limit=3)
    assert recalibration.maybe_recalibrate(p, THRESHOLD, params) is None  # queue not empty
    while review_flags(p, truth):
        recalibration.maybe_recalibrate(p, THRESHOLD, params)
    res = recalibration.maybe_recalibrate(p, THRESHOLD, params)
    assert recalibration.unreviewed_flags(p) == 0 or res is not None
    assert recal_report.summary(p).startswith("learned from ")


def test_the_map_is_increasing() -> None:
    for a, b in ((-1.5, 0.6), (1.0, 1.4), (-0.5, 2.0), (2.0, 0.3)):
        m = recalibration.RecalMap(a, b, -1.0, 0.5, 2.0)
        c = np.linspace(0.001, 0.999, 2001)
        out = m.apply(c)
        assert np.all(np.diff(out) >= -1e-12)


def test_ece_of_a_calibrated_sample_is_small() -> None:
    rng = np.random.default_rng(0)
    c = rng.random(20000)
    right = rng.random(20000) < c
    assert recal_report.ece(c, right) < 0.02
    assert recal_report.ece(np.clip(c + 0.2, 0, 1), right) > 0.1


def test_the_two_piece_map_is_increasing_across_the_knot() -> None:
    c = np.linspace(0.001, 0.999, 4001)
    for low, high in (
        (recalibration.RecalMap(1.0, 1.0, -2.0, -0.1), recalibration.RecalMap(-2.0, 0.8, 0.1, 4.0)),
        (recalibration.RecalMap(-1.0, 1.2, -2.0, -0.1), recalibration.RecalMap(1.5, 1.0, 0.1, 4.0)),
    ):
        out = recalibration.TwoPieceMap(low, high, 0.0).apply(c)
        assert np.all(np.diff(out) >= -1e-12)
