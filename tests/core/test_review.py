from __future__ import annotations

import itertools

import pytest

from tracker_annotate.core import commands as cmd
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.review import (
    FlagHop,
    accept_stretch,
    flag_hop,
    flag_segments,
    flagged_positions,
    flagged_stretch,
    next_flag,
    review_items,
    suggest_keyframe,
)


def flagged_project() -> tuple[Project, int, int]:
    p = Project(MediaRef("v.mp4", 50, 100, 100))
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    b = cmd.add_track(p, 0, BoxXYXY(20, 20, 30, 30))
    with p.edit("seed") as tx:
        for f in range(1, 20):
            fl_a = f in (3, 4, 5, 12)
            fl_b = f in (4, 18)
            conf_a = 0.2 if fl_a else 0.9
            conf_b = 0.1 if f == 18 else (0.3 if fl_b else 0.9)
            tx.set_box(
                a, FrameBox(f, BoxXYXY(0, 0, 10, 10), BoxSource.TRACKED, conf_a, flagged=fl_a)
            )
            tx.set_box(
                b, FrameBox(f, BoxXYXY(20, 20, 30, 30), BoxSource.TRACKED, conf_b, flagged=fl_b)
            )
    return p, a, b


def test_queue_is_in_review_order_and_counts_down() -> None:
    p, _, b = flagged_project()
    items = review_items(p)
    assert len(items) == 6
    assert [(it.track_id, it.frame) for it in items] == [(t, f) for f, t in flagged_positions(p)]
    cmd.accept_box(p, b, 18)
    assert len(review_items(p)) == 5
    assert len(review_items(p, unverified_derived=True)) == 2 * 19 - 1


def test_value_order_prefers_more_expected_wrong_per_second() -> None:
    p, a, _ = flagged_project()
    segs = flag_segments(p)
    # a 3..5 at 0.2 carries 2.4 expected wrong: worth more per second than one box at 0.1
    assert (segs[0].track_id, segs[0].start, segs[0].end) == (a, 3, 5)
    assert [s.value for s in segs] == sorted((s.value for s in segs), reverse=True)
    assert segs[0].expected_wrong == pytest.approx(3 * 0.8)
    assert "re-tracks" in segs[0].explain() and "low confidence" in segs[0].explain()


def test_a_correction_that_re_tracks_uncertain_boxes_ranks_higher() -> None:
    p = Project(MediaRef("v.mp4", 60, 100, 100))
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    b = cmd.add_track(p, 0, BoxXYXY(20, 20, 30, 30))
    with p.edit("seed") as tx:
        for f in range(1, 50):
            # same flagged box on both tracks; a's unflagged tail is uncertain, b's is sure
            tail = 0.8 if f > 1 else 0.3
            for tid, conf in ((a, tail), (b, 0.99 if f > 1 else 0.3)):
                tx.set_box(
                    tid,
                    FrameBox(
                        f,
                        BoxXYXY(0, 0, 10, 10),
                        BoxSource.TRACKED,
                        conf,
                        flagged=f == 1,
                        flag_reason="low confidence" if f == 1 else "",
                    ),
                )
    segs = flag_segments(p)
    assert [s.track_id for s in segs] == [a, b]
    assert segs[0].retracked == segs[1].retracked == 49
    assert segs[0].value > segs[1].value


def test_next_and_previous_flag_follow_the_review_order() -> None:
    p, a, _ = flagged_project()
    order = flagged_positions(p)
    assert len(order) == 6 and order[0] == (3, a)
    assert next_flag(p, 0) == order[0]  # F starts where the list starts
    for here, there in itertools.pairwise(order):
        assert next_flag(p, *here) == there
        assert next_flag(p, *there, backward=True) == here
    assert next_flag(p, *order[-1]) is None
    assert next_flag(p, *order[0], backward=True) is None
    cmd.accept_box(p, a, 3)  # the rest of the stretch comes next
    assert next_flag(p, 3, a) == (4, a)


def test_suggested_keyframe_is_the_least_confident_frame_of_the_worst_span() -> None:
    p, a, _ = flagged_project()
    frame, tid, why = suggest_keyframe(p)  # type: ignore[misc]
    # a: 1..19 has 4 boxes at 0.2 and 15 at 0.9 (4.7); b: 2 at 0.3/0.1, 17 at 0.9 (3.3)
    assert (frame, tid) == (3, a)
    assert "frame 3" in why
    cmd.add_box(p, a, 3, BoxXYXY(0, 0, 10, 10))
    assert suggest_keyframe(p)[1] == a  # type: ignore[index]


def test_segments_group_consecutive_flags() -> None:
    p, a, _ = flagged_project()
    segs = [s for s in flag_segments(p) if s.track_id == a]
    assert sorted((s.start, s.end) for s in segs) == [(3, 5), (12, 12)]
    assert all(s.reasons == ("low confidence",) for s in segs)


# -- Shift+Enter: accept a stretch ---------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (4, (3, 5)),  # the middle of a run: both ends found
        (3, (3, 5)),  # its first frame
        (5, (3, 5)),  # its last frame
        (12, (12, 12)),  # a run of one
        (6, None),  # right after the run: tracked, not flagged
        (0, None),  # the manual keyframe
        (25, None),  # no box at all
    ],
)
def test_flagged_stretch_is_the_run_around_a_frame(
    frame: int, expected: tuple[int, int] | None
) -> None:
    p, a, _ = flagged_project()
    assert flagged_stretch(p, a, frame) == expected


def test_accept_stretch_verifies_the_run_in_one_undo_step() -> None:
    p, a, b = flagged_project()
    before = {f: x for f, x in p.boxes(a).items()}
    done = accept_stretch(p, a, 4)
    assert done is not None
    assert (done.track_id, done.first, done.last, done.count) == (a, 3, 5, 3)
    assert done.description == f"Accept frames 3\u20135 of track {a}"
    for f in (3, 4, 5):
        box = p.box(a, f)
        assert box is not None and box.verified and not box.flagged and box.flag_reason == ""
    assert p.box(a, 12).flagged and p.box(b, 4).flagged  # type: ignore[union-attr]
    assert p.history.undo_text() == done.description
    p.history.undo()
    assert dict(p.boxes(a)) == before


def test_accept_stretch_of_one_box_names_one_frame() -> None:
    p, a, _ = flagged_project()
    done = accept_stretch(p, a, 12)
    assert done is not None and done.description == f"Accept frame 12 of track {a}"


def test_accept_stretch_off_a_flag_changes_nothing() -> None:
    p, a, _ = flagged_project()
    text = p.history.undo_text()
    assert accept_stretch(p, a, 7) is None
    assert p.history.undo_text() == text
    with pytest.raises(ProjectError, match="no track 99"):
        accept_stretch(p, 99, 4)


def test_an_accepted_run_is_not_flagged_again() -> None:
    p, a, _ = flagged_project()
    assert accept_stretch(p, a, 3) is not None
    assert accept_stretch(p, a, 3) is None  # verified now: Enter would be a no-op too


# -- F / Shift+F with wrap-around ---------------------------------------------------------


def test_flag_hop_steps_in_review_order_then_wraps() -> None:
    p, _, _ = flagged_project()
    order = flagged_positions(p)
    frame, tid = order[0]
    seen = [(frame, tid)]
    for _ in range(len(order) - 1):
        hop = flag_hop(p, frame, tid)
        assert hop is not None and hop.moved and not hop.wrapped
        frame, tid = hop.frame, hop.track_id
        seen.append((frame, tid))
    assert seen == order
    last = flag_hop(p, frame, tid)
    assert last == FlagHop(*order[0], wrapped=True, moved=True, left=len(order))
    back = flag_hop(p, *order[0], backward=True)
    assert back == FlagHop(*order[-1], wrapped=True, moved=True, left=len(order))


def test_flag_hop_from_an_unflagged_position_goes_to_the_first_or_last() -> None:
    p, a, _ = flagged_project()
    order = flagged_positions(p)
    hop = flag_hop(p, 30, None)
    assert hop is not None and (hop.frame, hop.track_id) == order[0] and not hop.wrapped
    back = flag_hop(p, 30, None, backward=True)
    assert back is not None and (back.frame, back.track_id) == order[-1]
    # a selected track without a box on the frame counts as no selection
    assert flag_hop(p, 30, a) == hop


def test_flag_hop_on_the_only_flag_left_does_not_move() -> None:
    p, a, b = flagged_project()
    for tid, f in [(a, 3), (a, 12), (b, 4)]:
        assert accept_stretch(p, tid, f) is not None
    assert flagged_positions(p) == [(18, b)]
    hop = flag_hop(p, 18, b)
    assert hop == FlagHop(18, b, wrapped=True, moved=False, left=1)
    assert flag_hop(p, 2, a) == FlagHop(18, b, wrapped=False, moved=True, left=1)
    cmd.accept_box(p, b, 18)
    assert flag_hop(p, 18, b) is None and flag_hop(p, 0, None, backward=True) is None
