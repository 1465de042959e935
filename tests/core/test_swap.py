"""Swap identities from a frame: two tracks that switched objects where they crossed get
their boxes back, as one undo step; pure model, and saved to a real SQLite project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker_annotate.core import commands as cmd
from tracker_annotate.core import review
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import ChangeSet, MediaRef, Project
from tracker_annotate.core.quality import AuditRound, AuditSample, QualityState, Stratum
from tracker_annotate.io.store import ProjectStore

SWAP = 12  # the frame the tracks switched objects on


def _tracked(f: int, x: float, **kw: object) -> FrameBox:
    return FrameBox(f, BoxXYXY(x, 0, x + 10, 10), BoxSource.TRACKED, 0.7).with_(**kw)


def crossing() -> tuple[Project, int, int]:
    """Track a (person, "left"): keyframes 0 and 20, tracked between and to 29, occluded
    on 25, flagged on 12; track b (car): keyframe 5, tracked to 24, verified on 15, outside
    from 26 (a manual end)."""
    p = Project(
        MediaRef("v.mp4", 100, 640, 480, 25.0),
        [Label("person", (255, 0, 0)), Label("car", (0, 0, 255))],
    )
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10), "person", name="left")
    b = cmd.add_track(p, 5, BoxXYXY(200, 0, 210, 10), "car")
    with p.edit("seed a tracking run") as tx:
        for f in range(1, 30):
            if f != 20:
                tx.set_box(a, _tracked(f, 2.0 * f, occluded=f == 25))
        tx.set_box(a, FrameBox(20, BoxXYXY(40, 0, 50, 10)))
        tx.set_box(a, _tracked(SWAP, 24.0, flagged=True, flag_reason="parted"))
        for f in range(6, 26):
            tx.set_box(b, _tracked(f, 200.0 - 2 * f, verified=f == 15))
        tx.set_box(b, FrameBox(26, BoxXYXY(148, 0, 158, 10), outside=True))
    p.history.clear()
    return p, a, b


def snapshot(p: Project) -> tuple[object, ...]:
    return (
        dict(p.tracks),
        {tid: dict(p.boxes(tid)) for tid in p.tracks},
        p.stale,
        p.quality,
    )


def test_swap_moves_every_box_from_the_frame_on_as_one_step() -> None:
    p, a, b = crossing()
    before = snapshot(p)
    old_a, old_b = dict(p.boxes(a)), dict(p.boxes(b))
    n = cmd.swap_identities(p, a, b, SWAP, anchor=False)
    assert n == len([f for f in old_a if f >= SWAP]) + len([f for f in old_b if f >= SWAP])
    # before the frame nothing moved; from it on the boxes changed tracks exactly as they
    # were: source, keyframe, flag, occluded, verified and outside marks included
    assert dict(p.boxes(a)) == {f: x for f, x in old_a.items() if f < SWAP} | {
        f: x for f, x in old_b.items() if f >= SWAP
    }
    assert dict(p.boxes(b)) == {f: x for f, x in old_b.items() if f < SWAP} | {
        f: x for f, x in old_a.items() if f >= SWAP
    }
    assert p.box(b, 25) == old_a[25] and p.box(b, 25).occluded  # type: ignore[union-attr]
    assert p.box(b, 20) == old_a[20] and p.box(b, 20).is_keyframe  # type: ignore[union-attr]
    assert p.box(a, 26) == old_b[26] and p.box(a, 26).outside  # type: ignore[union-attr]
    # the identities (id, label, name) stay: the boxes moved
    assert p.tracks[a].label == "person" and p.tracks[a].name == "left"
    assert p.tracks[b].label == "car"
    after = snapshot(p)
    assert p.history.undo_text() == f"Swap identities of tracks {a} and {b} from frame {SWAP}"
    p.history.undo()
    assert snapshot(p) == before and not p.history.can_undo()
    p.history.redo()
    assert snapshot(p) == after


def test_the_boxes_on_the_swap_frame_become_keyframes_the_re_track_starts_from() -> None:
    p, a, b = crossing()
    old_a, old_b = dict(p.boxes(a)), dict(p.boxes(b))
    cmd.swap_identities(p, a, b, SWAP)
    # seen by the annotator on this frame: verified, the crossing's flag answered
    assert p.box(a, SWAP) == old_b[SWAP].with_(verified=True)
    assert p.box(b, SWAP) == old_a[SWAP].with_(verified=True, flagged=False)
    assert SWAP in p.keyframes(a) and SWAP in p.keyframes(b)
    # so the re-track of each is the stretch between its keyframes around the frame, not
    # a whole track run from its first keyframe back into the same switch
    assert cmd.stale_span(p, a, SWAP) == (0, 15)  # its keyframe 0, and 15 that was b's
    assert cmd.stale_span(p, a, SWAP - 1) == (0, SWAP)
    assert cmd.stale_span(p, b, SWAP + 1) == (SWAP, 20)
    assert p.box(a, SWAP + 1) == old_b[SWAP + 1]  # the others are not touched


def test_the_swap_frame_is_not_anchored_where_a_track_has_no_box_or_is_outside() -> None:
    p, a, b = crossing()
    old_b = dict(p.boxes(b))
    cmd.swap_identities(p, a, b, 26)  # b is outside there; a is tracked
    assert p.box(a, 26) == old_b[26]  # an outside mark moves as it is
    assert p.box(b, 26) is not None and p.box(b, 26).verified  # type: ignore[union-attr]


def test_stale_marks_and_audit_samples_follow_their_boxes() -> None:
    p, a, b = crossing()
    rnd = AuditRound(
        seed=1,
        threshold=0.5,
        n_boxes=50,
        strata=(Stratum("all", 0.0, 1.0, 50),),
        samples=(
            AuditSample(a, 3, 0, "ok"),
            AuditSample(a, 14, 0, "wrong"),
            AuditSample(b, 22, 0),
        ),
    )
    with p.edit("edits awaiting their re-track, and an audit") as tx:
        tx.mark_stale(a, 3)
        tx.mark_stale(a, 21)
        tx.mark_stale(b, SWAP)
        tx.set_quality(QualityState(rounds=(rnd,)))
    cmd.swap_identities(p, a, b, SWAP)
    assert p.stale == {(a, 3), (b, 21), (a, SWAP)}
    samples = p.quality.rounds[0].samples
    assert [(s.track_id, s.frame, s.outcome) for s in samples] == [
        (a, 3, "ok"),
        (b, 14, "wrong"),
        (a, 22, None),
    ]
    p.history.undo()
    assert p.stale == {(a, 3), (a, 21), (b, SWAP)}
    assert p.quality.rounds[0] == rnd


def test_swapping_from_a_tracks_first_frame_swaps_all_of_its_boxes() -> None:
    p, a, b = crossing()
    old_a, old_b = dict(p.boxes(a)), dict(p.boxes(b))
    cmd.swap_identities(p, b, a, 0, anchor=False)  # order of the two does not matter
    assert dict(p.boxes(a)) == old_b and dict(p.boxes(b)) == old_a


@pytest.mark.parametrize(
    ("track_a", "track_b", "frame", "match"),
    [
        (1, 1, SWAP, "with itself"),  # one track twice: nothing to swap with
        (1, 99, SWAP, "no track 99"),  # unknown track
        (99, 2, SWAP, "no track 99"),  # unknown first track
        (1, 2, -1, "0-based"),  # before the first frame
        (1, 2, 100, "beyond the last frame 99"),  # past the media's end
        (1, 2, 50, "nothing to swap"),  # in range, but both tracks ended before it
        (1, 2, True, "0-based"),  # a bool is not a frame number
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    track_a: int, track_b: int, frame: int, match: str
) -> None:
    p, a, b = crossing()
    assert (a, b) == (1, 2)
    before = snapshot(p)
    seen: list[ChangeSet] = []
    p.changed.connect(seen.append)
    with pytest.raises(ProjectError, match=match):
        cmd.swap_identities(p, track_a, track_b, frame)
    assert snapshot(p) == before
    assert seen == [] and not p.history.can_undo()


def test_the_swap_is_saved_and_reopened_from_the_sqlite_file(tmp_path: Path) -> None:
    p, a, b = crossing()
    path = tmp_path / "crossing.taproj"
    store = ProjectStore.create(path, p)
    with p.edit("an edit awaiting its re-track") as tx:
        tx.mark_stale(a, 21)
    cmd.swap_identities(p, a, b, SWAP)
    expected = {t: dict(p.boxes(t)) for t in (a, b)}
    store.close()
    with ProjectStore.open(path, check_media=False) as again:
        q = again.project
        assert {t: dict(q.boxes(t)) for t in (a, b)} == expected
        assert q.tracks[a].label == "person" and q.tracks[b].label == "car"
        assert q.stale == {(b, 21)}
        cmd.swap_identities(q, a, b, SWAP)  # swapping back after reopening
    with ProjectStore.open(path, check_media=False) as third:
        r = third.project
        assert r.box(a, SWAP + 1) == p.box(b, SWAP + 1)
        assert r.stale == {(a, 21)}


# -- where the app suggests it -----------------------------------------------------------
def test_crossing_partner_is_the_track_overlapping_here_or_on_the_frame_before() -> None:
    p = Project(MediaRef("v.mp4", 10, 640, 480, 25.0))
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    b = cmd.add_track(p, 0, BoxXYXY(5, 0, 15, 10))  # overlaps a on frame 0
    cmd.add_track(p, 0, BoxXYXY(8, 0, 18, 10))  # overlaps a too, less
    cmd.add_box(p, a, 1, BoxXYXY(0, 0, 10, 10))
    cmd.add_box(p, b, 1, BoxXYXY(50, 0, 60, 10))  # parted on frame 1
    far = cmd.add_track(p, 1, BoxXYXY(300, 300, 310, 310))
    assert review.crossing_partner(p, a, 0) == b
    assert review.crossing_partner(p, a, 1) == b  # the overlap ended on the frame before
    assert review.crossing_partner(p, far, 1) is None


def test_overlap_flags_suggest_the_swap_and_name_its_key() -> None:
    from tracker_annotate.tracking.confidence import REASON_CONFLICT, REASON_DRIFT, REASON_PARTED

    for reason in (REASON_CONFLICT, REASON_PARTED):
        box = _tracked(3, 1.0, flagged=True, flag_reason=reason)
        assert review.suggests_swap(box) and f"{cmd.SWAP_IDENTITIES_KEY} swaps" in reason
    assert not review.suggests_swap(_tracked(3, 1.0, flagged=True, flag_reason=REASON_DRIFT))
    assert not review.suggests_swap(None)
