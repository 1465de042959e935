from __future__ import annotations

from tracker_annotate.core import commands as cmd
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.review import flag_segments, next_flag, review_items


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


def test_queue_is_lowest_confidence_first_and_counts_down() -> None:
    p, _, b = flagged_project()
    items = review_items(p)
    assert len(items) == 6
    assert (items[0].track_id, items[0].frame) == (b, 18)
    assert [it.confidence for it in items] == sorted(it.confidence for it in items)
    cmd.accept_box(p, b, 18)
    assert len(review_items(p)) == 5
    assert len(review_items(p, unverified_derived=True)) == 2 * 19 - 1


def test_next_and_previous_flag_in_playback_order() -> None:
    p, a, b = flagged_project()
    assert next_flag(p, 0) == (3, a)
    assert next_flag(p, 3, a) == (4, a)
    assert next_flag(p, 4, a) == (4, b)
    assert next_flag(p, 4, b) == (5, a)
    assert next_flag(p, 18, b) is None
    assert next_flag(p, 4, b, backward=True) == (4, a)
    assert next_flag(p, 4, backward=True) == (4, b)
    assert next_flag(p, 3, a, backward=True) is None


def test_segments_group_consecutive_flags() -> None:
    p, a, _ = flagged_project()
    segs = [s for s in flag_segments(p) if s.track_id == a]
    assert sorted((s.start, s.end) for s in segs) == [(3, 5), (12, 12)]
    assert all(s.reasons == ("low confidence",) for s in segs)
