from __future__ import annotations

import pytest

from tracker_annotate.core import commands as cmd
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import ChangeSet, MediaRef, Project, TrackInfo


def make_project(n_frames: int = 100) -> Project:
    return Project(
        MediaRef("v.mp4", n_frames, 640, 480, 25.0),
        [Label("person", (255, 0, 0)), Label("car", (0, 0, 255))],
    )


def tracked(frame: int, x: float = 0.0, conf: float = 0.9, flagged: bool = False) -> FrameBox:
    return FrameBox(frame, BoxXYXY(x, 0, x + 10, 10), BoxSource.TRACKED, conf, flagged=flagged)


def snapshot(p: Project) -> tuple[object, ...]:
    return (
        dict(p.tracks),
        {tid: dict(p.boxes(tid)) for tid in p.tracks},
        dict(p.labels),
    )


def test_every_command_undoes_and_redoes_exactly() -> None:
    p = make_project()
    t1 = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10), "person")
    t2 = cmd.add_track(p, 5, BoxXYXY(50, 50, 60, 60), "car")
    with p.edit("seed derived") as tx:
        for f in range(1, 20):
            tx.set_box(t1, tracked(f, f))
    operations = [
        lambda: cmd.add_box(p, t1, 30, BoxXYXY(1, 1, 5, 5)),
        lambda: cmd.set_box_geometry(p, t1, 3, BoxXYXY(2, 2, 8, 8)),
        lambda: cmd.delete_box(p, t1, 4),
        lambda: cmd.relabel(p, t1, "car"),
        lambda: cmd.rename_track(p, t2, "red car"),
        lambda: cmd.mark_outside(p, t1, 10),
        lambda: cmd.accept_box(p, t1, 2),
        lambda: cmd.split_track(p, t1, 8),
        lambda: cmd.merge_tracks(p, t2, t1),
        lambda: cmd.delete_track(p, t2),
        lambda: cmd.set_label(p, Label("bike", (0, 255, 0))),
        lambda: cmd.set_track_hidden(p, t1, True),
        lambda: cmd.copy_box_to_frame(p, t1, 0, 1),
    ]
    for op in operations:
        before = snapshot(p)
        try:
            op()
        except ProjectError:
            continue  # an op made impossible by an earlier one (e.g. on a deleted track)
        after = snapshot(p)
        assert after != before
        p.history.undo()
        assert snapshot(p) == before
        p.history.redo()
        assert snapshot(p) == after


def test_deleting_last_box_keeps_the_track() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    cmd.delete_box(p, tid, 0)
    assert tid in p.tracks
    assert len(p.boxes(tid)) == 0
    p.history.undo()
    assert p.box(tid, 0) is not None


def test_failed_transaction_rolls_back_and_emits_nothing() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    seen: list[ChangeSet] = []
    p.changed.connect(seen.append)
    before = snapshot(p)
    with pytest.raises(RuntimeError), p.edit("half done") as tx:
        tx.set_box(tid, tracked(1))
        tx.remove_box(tid, 0)
        raise RuntimeError("worker died")
    assert snapshot(p) == before
    assert seen == []
    assert p.history.undo_text() == "Add track"


def test_change_set_names_what_changed_and_nested_edits_join() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    seen: list[ChangeSet] = []
    p.changed.connect(seen.append)
    with p.edit("outer") as tx:
        tx.set_box(tid, tracked(1))
        with p.edit("inner") as inner:
            inner.set_box(tid, tracked(2))
    assert len(seen) == 1
    assert seen[0].boxes == {(tid, 1), (tid, 2)}
    assert seen[0].description == "outer"
    p.history.undo()
    assert seen[-1].kind == "undo"
    assert p.box(tid, 1) is None


def test_frame_beyond_media_is_refused() -> None:
    p = make_project(n_frames=10)
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    with pytest.raises(ProjectError, match="beyond the last frame 9"):
        cmd.add_box(p, tid, 10, BoxXYXY(0, 0, 1, 1))


def test_unknown_label_and_label_in_use() -> None:
    p = make_project()
    with pytest.raises(ProjectError, match="unknown label"), p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "dragon"))
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10), "car")
    with pytest.raises(ProjectError, match="used by tracks"):
        cmd.remove_label(p, "car")
    assert tid in p.tracks


def test_replace_derived_keeps_keyframes_and_only_touches_span() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    cmd.add_box(p, tid, 10, BoxXYXY(5, 0, 15, 10))
    with p.edit("seed") as tx:
        for f in [*range(1, 10), *range(11, 20)]:
            tx.set_box(tid, tracked(f, 1.0))
    new = [tracked(f, 2.0) for f in range(0, 11)]
    cmd.replace_derived_boxes(p, {tid: new}, {tid: (0, 10)})
    assert p.box(tid, 0).source is BoxSource.MANUAL  # type: ignore[union-attr]
    assert p.box(tid, 10).source is BoxSource.MANUAL  # type: ignore[union-attr]
    assert p.box(tid, 5).xyxy.x1 == 2.0  # type: ignore[union-attr]
    assert p.box(tid, 15).xyxy.x1 == 1.0  # type: ignore[union-attr]
    p.history.undo()
    assert p.box(tid, 5).xyxy.x1 == 1.0  # type: ignore[union-attr]


def test_mark_outside_ends_track_and_drops_later_derived() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    with p.edit("seed") as tx:
        for f in range(1, 30):
            tx.set_box(tid, tracked(f))
    cmd.add_box(p, tid, 25, BoxXYXY(0, 0, 10, 10))
    cmd.mark_outside(p, tid, 12)
    assert p.box(tid, 12).outside  # type: ignore[union-attr]
    assert p.box(tid, 13) is None
    assert p.box(tid, 25) is not None  # a human's box is never dropped silently
    assert p.extent(tid) == (0, 25)


def test_split_and_merge() -> None:
    p = make_project()
    tid = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    with p.edit("seed") as tx:
        for f in range(1, 10):
            tx.set_box(tid, tracked(f))
    new = cmd.split_track(p, tid, 5)
    assert sorted(p.boxes(tid)) == [0, 1, 2, 3, 4]
    assert sorted(p.boxes(new)) == [5, 6, 7, 8, 9]
    with pytest.raises(ProjectError, match="nothing would remain"):
        cmd.split_track(p, tid, 0)
    cmd.merge_tracks(p, tid, new)
    assert sorted(p.boxes(tid)) == list(range(10))
    assert new not in p.tracks


def test_import_tracks_adds_under_new_ids_or_replaces_as_one_undo_step() -> None:
    p = make_project()
    mine = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10), "person")
    other = Project(p.media, [Label("bike", (0, 255, 0))])
    t = cmd.add_track(other, 3, BoxXYXY(5, 5, 20, 20), "bike")
    with other.edit("derived") as tx:
        tx.set_box(t, tracked(4))
    before = snapshot(p)

    ids = cmd.import_tracks(p, other, "Import")
    assert ids != [mine] and len(ids) == 1
    assert set(p.tracks) == {mine, ids[0]}
    assert dict(p.boxes(ids[0])) == dict(other.boxes(t))
    assert "bike" in p.labels
    p.history.undo()
    assert snapshot(p) == before

    ids = cmd.import_tracks(p, other, "Replace", replace=True)
    assert ids == [t] and set(p.tracks) == {t}
    assert dict(p.boxes(t)) == dict(other.boxes(t))
    p.history.undo()
    assert snapshot(p) == before


def test_stale_marks_are_part_of_the_edit_and_undo_with_it() -> None:
    p = make_project()
    t = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    seen: list[ChangeSet] = []
    p.changed.connect(seen.append)
    with p.edit("") as tx:  # the command names the step
        cmd.set_box_geometry(p, t, 0, BoxXYXY(5, 0, 15, 10))
        tx.mark_stale(t, 0)
    assert p.history.undo_text() == "Move box"
    assert p.stale == {(t, 0)} and seen[-1].stale and seen[-1].boxes == {(t, 0)}
    p.history.undo()
    assert p.stale == frozenset() and seen[-1].stale
    p.history.redo()
    assert p.stale == {(t, 0)}
    cmd.delete_track(p, t)
    assert p.stale == frozenset(), "a deleted track needs no re-track"
    p.history.undo()
    assert p.stale == {(t, 0)}


def test_a_fix_and_its_retrack_merge_into_one_undo_step() -> None:
    p = make_project()
    t = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    with p.edit("Track") as tx:
        for f in range(1, 10):
            tx.set_box(t, tracked(f, f))
    before = snapshot(p)
    with p.edit("") as tx:
        cmd.set_box_geometry(p, t, 5, BoxXYXY(50, 0, 60, 10))
        tx.mark_stale(t, 5)
    edit = p.history.last
    assert edit is not None
    with p.edit("Re-track") as tx:
        for f in range(6, 10):
            tx.set_box(t, tracked(f, 50 + f))
        tx.clear_stale(t, 5)
    after = snapshot(p)
    assert p.history.merge_last_two(edit, "Move box + re-track")
    assert p.history.undo_text() == "Move box + re-track"
    p.history.undo()  # one Ctrl+Z: the fix and its re-track
    assert snapshot(p) == before and p.stale == frozenset()
    assert p.history.undo_text() == "Track"
    p.history.redo()
    assert snapshot(p) == after and p.stale == frozenset()
    # only the step directly below may be joined
    assert not p.history.merge_last_two(edit, "x")


def test_flag_stale_stretches_flags_the_span_of_each_mark() -> None:
    p = make_project(30)
    t = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    with p.edit("Track") as tx:
        for f in range(1, 30):
            tx.set_box(t, tracked(f, f))
        tx.set_box(t, FrameBox(20, BoxXYXY(20, 0, 30, 10)))  # a keyframe ends the stretch
    with p.edit("") as tx:
        cmd.set_box_geometry(p, t, 10, BoxXYXY(50, 0, 60, 10))
        tx.mark_stale(t, 10)
    assert cmd.stale_span(p, t, 10) == (0, 20)
    n = cmd.flag_stale_stretches(p)
    flagged = {f for f, b in p.boxes(t).items() if b.flagged}
    assert flagged == set(range(1, 10)) | set(range(11, 20)) and n == 18
    assert all(p.box(t, f).flag_reason == cmd.STALE_REASON for f in flagged)  # type: ignore[union-attr]
    assert p.stale == {(t, 10)}, "flagging is not re-tracking: the mark stays"


def test_undoing_one_step_keeps_the_stale_marks_of_others() -> None:
    """Undo restores a step's own marks as a delta: an edit whose re-track is still
    running keeps its mark when an older step is undone."""
    p = make_project()
    a = cmd.add_track(p, 0, BoxXYXY(0, 0, 10, 10))
    b = cmd.add_track(p, 0, BoxXYXY(50, 0, 60, 10))
    with p.edit("") as tx:
        cmd.set_box_geometry(p, a, 0, BoxXYXY(1, 0, 11, 10))
        tx.mark_stale(a, 0)
    with p.edit("Re-track a") as tx:
        tx.clear_stale(a, 0)
    with p.edit("") as tx:
        cmd.set_box_geometry(p, b, 0, BoxXYXY(51, 0, 61, 10))
        tx.mark_stale(b, 0)
    # undo b's edit, then a's re-track: a's mark comes back, b's goes
    p.history.undo()
    assert p.stale == frozenset()
    p.history.undo()
    assert p.stale == {(a, 0)}
    p.history.redo()
    p.history.redo()
    assert p.stale == {(b, 0)}
